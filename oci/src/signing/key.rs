//! RSA keys: loading private keys from PEM (PKCS#1, PKCS#8, encrypted either way), the public
//! half, OCI's key fingerprint, and the raw PKCS#1 v1.5 SHA-256 sign and verify operations.

use std::fmt;

use md5::{Digest as _, Md5};
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::pkcs1v15;
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePublicKey, LineEnding};
use rsa::rand_core::OsRng;
use rsa::signature::{RandomizedSigner, SignatureEncoding, Verifier};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use sha2::Sha256;

use super::error::KeyError;
use super::pem::{decrypt_legacy, find_block};

/// An RSA private key used to sign requests. Its `Debug` output shows only the key size.
///
/// Keys are parsed (PEM, encryption, PKCS#1/#8) with RustCrypto's `rsa`; keys of 2048 bits or
/// more also get an AWS-LC copy that does the signing, about three times faster (a signature
/// per request is most of a call's cost). Smaller keys, such as OCI's 1024-bit test vector
/// key, which AWS-LC refuses, sign through `rsa`.
#[derive(Clone)]
pub struct PrivateKey {
    inner: RsaPrivateKey,
    fast: Option<std::sync::Arc<aws_lc_rs::rsa::KeyPair>>,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("bits", &self.bits())
            .finish_non_exhaustive()
    }
}

impl PrivateKey {
    fn wrap(inner: RsaPrivateKey) -> Self {
        use rsa::pkcs8::EncodePrivateKey as _;
        let fast = (inner.n().bits() >= 2048)
            .then(|| inner.to_pkcs8_der().ok())
            .flatten()
            .and_then(|der| aws_lc_rs::rsa::KeyPair::from_pkcs8(der.as_bytes()).ok())
            .map(std::sync::Arc::new);
        Self { inner, fast }
    }

    /// Loads the first private key PEM block of `pem`.
    ///
    /// Accepts `RSA PRIVATE KEY` (PKCS#1, optionally with legacy OpenSSL `Proc-Type: 4,ENCRYPTED`
    /// encryption), `PRIVATE KEY` (PKCS#8) and `ENCRYPTED PRIVATE KEY` (PKCS#8 PBES2). A pass
    /// phrase given for an unencrypted key is ignored, as the OCI SDKs do.
    pub fn from_pem(pem: &str, passphrase: Option<&[u8]>) -> Result<Self, KeyError> {
        let block = find_block(
            pem,
            "RSA PRIVATE KEY, PRIVATE KEY or ENCRYPTED PRIVATE KEY",
            |l| l.ends_with("PRIVATE KEY"),
        )?;
        let inner = match block.label.as_str() {
            "RSA PRIVATE KEY" if block.is_legacy_encrypted() => {
                let passphrase = passphrase.ok_or(KeyError::PassphraseRequired)?;
                let der = decrypt_legacy(&block, passphrase)?;
                // A wrong pass phrase that happens to leave valid padding decrypts to garbage.
                RsaPrivateKey::from_pkcs1_der(&der).map_err(|_| KeyError::WrongPassphrase)?
            }
            "RSA PRIVATE KEY" => {
                RsaPrivateKey::from_pkcs1_der(&block.der).map_err(|e| KeyError::Parse {
                    format: "PKCS#1 private",
                    reason: e.to_string(),
                })?
            }
            "PRIVATE KEY" => Self::parse_pkcs8(&block.der)?.inner,
            "ENCRYPTED PRIVATE KEY" => {
                let passphrase = passphrase.ok_or(KeyError::PassphraseRequired)?;
                let info = pkcs8::EncryptedPrivateKeyInfo::try_from(block.der.as_slice()).map_err(
                    |e| KeyError::Parse {
                        format: "encrypted PKCS#8",
                        reason: e.to_string(),
                    },
                )?;
                // pkcs5 0.7 reports the padding failure of a wrong pass phrase as
                // `EncryptFailed`; either failure means the pass phrase did not fit.
                let der = info.decrypt(passphrase).map_err(|e| match e {
                    pkcs8::Error::EncryptedPrivateKey(
                        pkcs8::pkcs5::Error::DecryptFailed | pkcs8::pkcs5::Error::EncryptFailed,
                    ) => KeyError::WrongPassphrase,
                    other => KeyError::UnsupportedEncryption(other.to_string()),
                })?;
                RsaPrivateKey::from_pkcs8_der(der.as_bytes())
                    .map_err(|_| KeyError::WrongPassphrase)?
            }
            other => {
                return Err(KeyError::Parse {
                    format: "PEM",
                    reason: format!("{other} is not an RSA private key"),
                });
            }
        };
        Ok(Self::wrap(inner))
    }

    /// Loads an unencrypted PKCS#8 DER private key.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        Self::parse_pkcs8(der)
    }

    /// Loads an unencrypted PKCS#1 DER private key.
    pub fn from_pkcs1_der(der: &[u8]) -> Result<Self, KeyError> {
        RsaPrivateKey::from_pkcs1_der(der)
            .map(Self::wrap)
            .map_err(|e| KeyError::Parse {
                format: "PKCS#1 private",
                reason: e.to_string(),
            })
    }

    fn parse_pkcs8(der: &[u8]) -> Result<Self, KeyError> {
        RsaPrivateKey::from_pkcs8_der(der)
            .map(Self::wrap)
            .map_err(|e| KeyError::Parse {
                format: "PKCS#8 private",
                reason: e.to_string(),
            })
    }

    /// Generates a fresh key (the session key of instance-principal auth is RSA-2048).
    pub fn generate(bits: usize) -> Result<Self, KeyError> {
        use aws_lc_rs::encoding::AsDer as _;
        // AWS-LC generates the common sizes many times faster than pure Rust.
        let size = match bits {
            2048 => Some(aws_lc_rs::rsa::KeySize::Rsa2048),
            3072 => Some(aws_lc_rs::rsa::KeySize::Rsa3072),
            4096 => Some(aws_lc_rs::rsa::KeySize::Rsa4096),
            _ => None,
        };
        if let Some(size) = size {
            let pair = aws_lc_rs::rsa::KeyPair::generate(size)
                .map_err(|e| KeyError::Generate(e.to_string()))?;
            let der = pair
                .as_der()
                .map_err(|e| KeyError::Generate(e.to_string()))?;
            return Self::parse_pkcs8(der.as_ref());
        }
        RsaPrivateKey::new(&mut OsRng, bits)
            .map(Self::wrap)
            .map_err(|e| KeyError::Generate(e.to_string()))
    }

    /// The public half.
    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            inner: self.inner.to_public_key(),
        }
    }

    /// Modulus size in bits.
    pub fn bits(&self) -> usize {
        self.inner.n().bits()
    }

    /// RSASSA-PKCS1-v1_5 over SHA-256 of `message`.
    ///
    /// PKCS#1 v1.5 is deterministic; the random source only blinds the private-key operation
    /// against timing attacks.
    pub fn sign_sha256(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        if let Some(fast) = &self.fast {
            let mut signature = vec![0u8; fast.public_modulus_len()];
            let rng = aws_lc_rs::rand::SystemRandom::new();
            fast.sign(
                &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                &rng,
                message,
                &mut signature,
            )
            .map_err(|e| KeyError::Parse {
                format: "RSA signing",
                reason: e.to_string(),
            })?;
            return Ok(signature);
        }
        let signing_key = pkcs1v15::SigningKey::<Sha256>::new(self.inner.clone());
        signing_key
            .try_sign_with_rng(&mut OsRng, message)
            .map(|s| s.to_vec())
            .map_err(|e| KeyError::Parse {
                format: "RSA signing",
                reason: e.to_string(),
            })
    }
}

/// An RSA public key, used to verify signatures and to compute OCI fingerprints.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    inner: RsaPublicKey,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("bits", &self.inner.n().bits())
            .field("fingerprint", &self.fingerprint().ok())
            .finish()
    }
}

impl PublicKey {
    /// Loads the first public key PEM block: `PUBLIC KEY` (SubjectPublicKeyInfo) or
    /// `RSA PUBLIC KEY` (PKCS#1).
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let block = find_block(pem, "PUBLIC KEY or RSA PUBLIC KEY", |l| {
            l == "PUBLIC KEY" || l == "RSA PUBLIC KEY"
        })?;
        if block.label == "RSA PUBLIC KEY" {
            RsaPublicKey::from_pkcs1_der(&block.der)
                .map(|inner| Self { inner })
                .map_err(|e| KeyError::Parse {
                    format: "PKCS#1 public",
                    reason: e.to_string(),
                })
        } else {
            Self::from_der(&block.der)
        }
    }

    /// Loads a SubjectPublicKeyInfo DER public key.
    pub fn from_der(der: &[u8]) -> Result<Self, KeyError> {
        RsaPublicKey::from_public_key_der(der)
            .map(|inner| Self { inner })
            .map_err(|e| KeyError::Parse {
                format: "SubjectPublicKeyInfo",
                reason: e.to_string(),
            })
    }

    /// SubjectPublicKeyInfo DER.
    pub fn to_der(&self) -> Result<Vec<u8>, KeyError> {
        self.inner
            .to_public_key_der()
            .map(|d| d.as_bytes().to_vec())
            .map_err(|e| KeyError::Encode(e.to_string()))
    }

    /// SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`), LF line ends.
    pub fn to_pem(&self) -> Result<String, KeyError> {
        self.inner
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| KeyError::Encode(e.to_string()))
    }

    /// OCI's API key fingerprint: MD5 of the SubjectPublicKeyInfo DER as lowercase colon hex
    /// (what `openssl rsa -pubout -outform DER | openssl md5 -c` prints and the console shows).
    pub fn fingerprint(&self) -> Result<String, KeyError> {
        let der = self.to_der()?;
        let digest = Md5::digest(&der);
        Ok(digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":"))
    }

    /// Checks an RSASSA-PKCS1-v1_5 SHA-256 `signature` over `message`.
    pub fn verify_sha256(&self, message: &[u8], signature: &[u8]) -> bool {
        if self.inner.n().bits() >= 2048 {
            use rsa::pkcs1::EncodeRsaPublicKey as _;
            if let Ok(der) = self.inner.to_pkcs1_der() {
                return aws_lc_rs::signature::UnparsedPublicKey::new(
                    &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
                    der.as_bytes(),
                )
                .verify(message, signature)
                .is_ok();
            }
        }
        let Ok(signature) = pkcs1v15::Signature::try_from(signature) else {
            return false;
        };
        pkcs1v15::VerifyingKey::<Sha256>::new(self.inner.clone())
            .verify(message, &signature)
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The AWS-LC path must produce exactly what RustCrypto produces: PKCS#1 v1.5 signatures are
    /// deterministic, so the two backends are interchangeable byte for byte.
    #[test]
    fn fast_and_portable_signatures_are_identical() {
        let key = PrivateKey::generate(2048).unwrap();
        assert!(key.fast.is_some(), "a 2048-bit key gets the AWS-LC signer");
        let message = b"date: Thu, 05 Jan 2014 21:31:40 GMT\n(request-target): get /";
        let fast = key.sign_sha256(message).unwrap();
        let portable = PrivateKey {
            inner: key.inner.clone(),
            fast: None,
        }
        .sign_sha256(message)
        .unwrap();
        assert_eq!(fast, portable);
        let public = key.public_key();
        assert!(public.verify_sha256(message, &fast));
        assert!(!public.verify_sha256(b"another message", &fast));
    }
}
