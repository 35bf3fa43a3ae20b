//! The Interactions Endpoint transport: interactions POSTed by Discord to `/interactions` on the
//! HTTP listener, answered in the HTTP response through the same router as the gateway's.
//!
//! Discord signs every POST: Ed25519 over the `X-Signature-Timestamp` header followed by the
//! raw body, with the application's key. A bad or missing signature, a timestamp more than five
//! minutes off, or an interaction already handled (a replay, remembered in the database so any
//! process behind a load balancer knows it) gets 401 and changes nothing. A command still
//! working after 2.5 s is answered "deferred" and finished through the interaction's webhook;
//! a form or an autocomplete cannot be deferred and is given up as on the gateway.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde_json::{json, Value};
use serenity::all::{CreateInteractionResponse, Interaction};
use tracing::{debug, warn};

use super::router;
use crate::app::App;
use crate::render;

/// Signed timestamps further than this from now are refused.
const TIMESTAMP_WINDOW: i64 = 5 * 60;
/// Past this, a command is deferred so the HTTP answer comes inside Discord's 3 seconds.
const ANSWER_WITHIN: Duration = Duration::from_millis(2_500);

/// Reads the application's public key (64 hex digits). A bad key is a configuration error.
pub fn verifying_key(hex_key: &str) -> Result<VerifyingKey, String> {
    let bytes = hex::decode(hex_key.trim()).map_err(|_| "not hexadecimal".to_string())?;
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| {
        "not 64 hex digits (32 bytes), as the Developer Portal shows it".to_string()
    })?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| "not an Ed25519 public key".to_string())
}

/// What the endpoint needs besides the app: the key, and where to finish deferred answers.
pub struct Endpoint {
    key: VerifyingKey,
    api_base: String,
    client: reqwest::Client,
}

impl Endpoint {
    pub fn new(key: VerifyingKey, api_base: &str) -> Self {
        Self {
            key,
            api_base: api_base.trim_end_matches('/').to_string(),
            client: reqwest::Client::new(),
        }
    }

    /// Whether `signature` (hex) signs `timestamp` + `body`, and the timestamp is recent.
    pub fn verify(
        &self,
        signature: Option<&str>,
        timestamp: Option<&str>,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> bool {
        let (Some(signature), Some(timestamp)) = (signature, timestamp) else {
            return false;
        };
        let Ok(bytes) = hex::decode(signature) else {
            return false;
        };
        let Ok(signature) = Signature::from_slice(&bytes) else {
            return false;
        };
        let recent = timestamp
            .parse::<i64>()
            .is_ok_and(|at| (now.timestamp() - at).abs() <= TIMESTAMP_WINDOW);
        let mut signed = timestamp.as_bytes().to_vec();
        signed.extend_from_slice(body);
        recent && self.key.verify(&signed, &signature).is_ok()
    }
}

/// The HTTP answer to one POST: status and JSON body.
pub async fn answer(
    app: Arc<App>,
    endpoint: &Endpoint,
    signature: Option<&str>,
    timestamp: Option<&str>,
    body: &[u8],
) -> (u16, Value) {
    let unauthorized = (401, json!({ "message": "invalid request signature" }));
    let now = app.clock.now();
    if !endpoint.verify(signature, timestamp, body, now) {
        debug!("interaction refused: bad signature or timestamp");
        return unauthorized;
    }
    let Ok(raw) = serde_json::from_slice::<Value>(body) else {
        return (400, json!({ "message": "not JSON" }));
    };
    if raw["type"] == 1 {
        return (200, json!({ "type": 1 }));
    }
    let id = raw["id"].as_str().and_then(|id| id.parse::<u64>().ok());
    let Some(id) = id else {
        return (400, json!({ "message": "no interaction id" }));
    };
    match app.db.first_sight_of_interaction(id, now).await {
        Ok(true) => {}
        Ok(false) => {
            warn!(interaction = id, "replayed interaction refused");
            return unauthorized;
        }
        Err(e) => {
            warn!(error = %e, "could not check for a replay");
            return (500, json!({ "message": "try again" }));
        }
    }
    let interaction: Interaction = match serde_json::from_value(raw) {
        Ok(interaction) => interaction,
        Err(e) => {
            warn!(error = %e, interaction = id, "interaction payload not understood");
            return (400, json!({ "message": "interaction not understood" }));
        }
    };
    let form = router::may_answer_with_form(&interaction);
    let autocomplete = matches!(interaction, Interaction::Autocomplete(_));
    let ephemeral =
        router::expected_visibility(&interaction) == super::registry::Visibility::Private;
    let token = interaction.token().to_string();
    let application_id = interaction.application_id().get();
    let handling = {
        let app = Arc::clone(&app);
        async move { router::handle(&app, &interaction).await }
    };
    let mut handling = Box::pin(handling);
    tokio::select! {
        answer = &mut handling => match answer {
            Some(answer) => (200, to_json(&answer.response)),
            None => (400, json!({ "message": "interaction type not handled" })),
        },
        () = tokio::time::sleep(ANSWER_WITHIN) => {
            if autocomplete {
                return (200, json!({ "type": 8, "data": { "choices": [] } }));
            }
            if form {
                return (200, to_json(&render::private(router::FORM_TOO_SLOW)));
            }
            // Deferred now; the answer edits the placeholder when it is ready.
            let url = format!(
                "{}/api/v10/webhooks/{application_id}/{token}/messages/@original",
                endpoint.api_base
            );
            let client = endpoint.client.clone();
            tokio::spawn(async move {
                let Some(answer) = handling.await else {
                    return;
                };
                let data = to_json(&answer.response)
                    .get("data")
                    .cloned()
                    .unwrap_or_default();
                let request = client
                    .patch(&url)
                    .header("content-type", "application/json")
                    .body(data.to_string());
                if let Err(e) = request.send().await {
                    warn!(error = %e.without_url(), "could not deliver a deferred answer");
                }
            });
            let flags = if ephemeral { 64 } else { 0 };
            (200, json!({ "type": 5, "data": { "flags": flags } }))
        }
    }
}

fn to_json(response: &CreateInteractionResponse) -> Value {
    serde_json::to_value(response).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    fn endpoint() -> (SigningKey, Endpoint) {
        let signing = SigningKey::from_bytes(&[7; 32]);
        let key = verifying_key(&hex::encode(signing.verifying_key().to_bytes())).expect("key");
        (signing, Endpoint::new(key, "http://127.0.0.1:1"))
    }

    #[test]
    fn a_signature_over_timestamp_and_body_verifies_and_nothing_else_does() {
        let (signing, endpoint) = endpoint();
        let now = Utc::now();
        let timestamp = now.timestamp().to_string();
        let body = br#"{"type":1}"#;
        let mut signed = timestamp.as_bytes().to_vec();
        signed.extend_from_slice(body);
        let signature = hex::encode(signing.sign(&signed).to_bytes());
        assert!(endpoint.verify(Some(&signature), Some(&timestamp), body, now));
        assert!(!endpoint.verify(Some(&signature), Some(&timestamp), br#"{"type":2}"#, now));
        assert!(!endpoint.verify(None, Some(&timestamp), body, now));
        assert!(!endpoint.verify(Some("zz"), Some(&timestamp), body, now));
        let later = now + chrono::Duration::minutes(6);
        assert!(!endpoint.verify(Some(&signature), Some(&timestamp), body, later));
    }

    #[test]
    fn a_bad_public_key_is_refused_with_a_reason() {
        assert_eq!(verifying_key("xyz"), Err("not hexadecimal".to_string()));
        assert!(verifying_key("abcd").is_err_and(|e| e.contains("64 hex digits")));
        let (signing, _) = endpoint();
        let good = hex::encode(signing.verifying_key().to_bytes());
        assert!(verifying_key(&good).is_ok());
    }
}
