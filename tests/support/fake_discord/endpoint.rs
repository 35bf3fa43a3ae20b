//! Discord's side of an Interactions Endpoint: interactions POSTed to the bot's URL, signed
//! with the application's key, as Discord does once an endpoint URL is set. The fake signs
//! whatever it is asked to and rejects nothing: checking is the bot's job, and tests forge
//! signatures or timestamps on purpose with [`post_signed`].

use ed25519_dalek::{Signer, SigningKey};
use serde_json::Value;

use super::FakeDiscord;

/// The application's signing key; its public half goes in `discord.public_key`.
pub fn signing_key() -> SigningKey {
    SigningKey::from_bytes(&[42; 32])
}

/// POSTs `body` to `url` signed by `key` at `timestamp` (Unix seconds); returns the status and
/// the JSON answer (`Null` if none).
pub async fn post_signed(
    url: &str,
    key: &SigningKey,
    timestamp: i64,
    body: &Value,
) -> (u16, Value) {
    let body = body.to_string();
    let timestamp = timestamp.to_string();
    let mut signed = timestamp.as_bytes().to_vec();
    signed.extend_from_slice(body.as_bytes());
    let signature = hex::encode(key.sign(&signed).to_bytes());
    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("x-signature-ed25519", signature)
        .header("x-signature-timestamp", timestamp)
        .body(body)
        .send()
        .await
        .expect("POST to the Interactions Endpoint");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let answer = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, answer)
}

impl FakeDiscord {
    /// The application's public key as hex, for `discord.public_key`.
    pub fn public_key_hex() -> String {
        hex::encode(signing_key().verifying_key().to_bytes())
    }

    /// Delivers `interaction` as Discord does to an Interactions Endpoint at `url`: signed now.
    /// A 200 answer counts as the interaction's response (so its webhook takes the edits of a
    /// deferred command, and [`FakeDiscord::response`] sees it). Returns status and answer.
    pub async fn post_interaction(&self, url: &str, interaction: &Value) -> (u16, Value) {
        let id = self.register_interaction(interaction);
        let now = chrono::Utc::now().timestamp();
        let (status, answer) = post_signed(url, &signing_key(), now, interaction).await;
        // A PING's PONG is no interaction response.
        if status == 200 && answer["type"].as_u64().is_some_and(|kind| kind != 1) {
            let token = interaction["token"].as_str().unwrap_or_default();
            self.acknowledged_over_http(id, token, &answer);
        }
        (status, answer)
    }
}
