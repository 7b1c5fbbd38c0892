//! A DPoP client's key and proofs (RFC 9449 §4), for the tests and benchmarks:
//! an ES256 key pair, its public JWK and RFC 7638 thumbprint (`cnf.jkt`), and
//! proofs signed with it, correct or broken on purpose.

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use jsonwebtoken::{
    Algorithm, EncodingKey,
    jwk::{Jwk, ThumbprintHash},
};
use serde_json::{Value, json};

pub struct DpopKey {
    encoding: EncodingKey,
    /// The public key as a JWK (what a proof's header carries).
    pub jwk: Value,
    /// `cnf.jkt` of a token bound to this key.
    pub thumbprint: String,
}

/// What a proof says; [`DpopKey::proof`] fills in a correct one.
pub struct ProofClaims<'a> {
    pub htm: &'a str,
    pub htu: &'a str,
    /// The access token the proof goes with (`ath`), none at the token endpoint.
    pub token: Option<&'a str>,
    pub iat: u64,
    pub jti: String,
}

impl DpopKey {
    pub fn generate() -> Self {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("P-256 key");
        let pkcs8 = pair.to_pkcs8v1().expect("pkcs8");
        let encoding = EncodingKey::from_ec_der(pkcs8.as_ref());
        // An uncompressed point: 0x04, then x and y, 32 bytes each.
        let point = pair.public_key().as_ref();
        let jwk = json!({
            "kty": "EC",
            "crv": "P-256",
            "x": B64.encode(&point[1..33]),
            "y": B64.encode(&point[33..65]),
        });
        let thumbprint = serde_json::from_value::<Jwk>(jwk.clone())
            .expect("a JWK")
            .thumbprint(ThumbprintHash::SHA256)
            .expect("thumbprint");
        Self {
            encoding,
            jwk,
            thumbprint,
        }
    }

    /// A correct proof for `htm htu` now, with a fresh `jti`.
    pub fn proof(&self, htm: &str, htu: &str, token: Option<&str>) -> String {
        self.proof_with(ProofClaims {
            htm,
            htu,
            token,
            iat: super::now(),
            jti: uuid::Uuid::new_v4().to_string(),
        })
    }

    pub fn proof_with(&self, claims: ProofClaims<'_>) -> String {
        let mut body = json!({
            "htm": claims.htm,
            "htu": claims.htu,
            "iat": claims.iat,
            "jti": claims.jti,
        });
        if let Some(token) = claims.token {
            body["ath"] = json!(ath(token));
        }
        self.sign(
            json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk}),
            &body,
        )
    }

    /// Any header (it must name ES256 for the signature to be right) and claims.
    pub fn sign(&self, header: Value, claims: &Value) -> String {
        let message = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        );
        let signature =
            jsonwebtoken::crypto::sign(message.as_bytes(), &self.encoding, Algorithm::ES256)
                .expect("sign");
        format!("{message}.{signature}")
    }
}

/// `ath`: base64url(SHA-256(token)).
pub fn ath(token: &str) -> String {
    B64.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        token.as_bytes(),
    ))
}
