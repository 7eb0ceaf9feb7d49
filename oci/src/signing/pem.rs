//! PEM text: finding a block among other text and undoing legacy OpenSSL encryption.
//!
//! Written by hand rather than with a strict RFC 7468 parser because real key files carry
//! things such parsers reject: a trailing `OCI_API_KEY` line added by the OCI console, CRLF
//! line ends, and the `Proc-Type`/`DEK-Info` headers of keys encrypted by OpenSSL before 3.0.

use aes::cipher::{BlockDecryptMut, KeyIvInit, block_padding::Pkcs7};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest, Md5};
use zeroize::Zeroizing;

use super::error::KeyError;

/// One decoded PEM block.
pub(crate) struct PemBlock {
    pub(crate) label: String,
    /// RFC 1421 headers such as `Proc-Type` and `DEK-Info`, in order.
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) der: Zeroizing<Vec<u8>>,
}

impl PemBlock {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// True when the block carries legacy OpenSSL encryption headers.
    pub(crate) fn is_legacy_encrypted(&self) -> bool {
        self.header("Proc-Type")
            .is_some_and(|v| v.to_ascii_uppercase().contains("ENCRYPTED"))
    }
}

/// Finds the first block whose label satisfies `accept` and decodes it.
pub(crate) fn find_block(
    text: &str,
    expected: &'static str,
    accept: impl Fn(&str) -> bool,
) -> Result<PemBlock, KeyError> {
    let mut lines = text.lines().map(str::trim);
    while let Some(line) = lines.next() {
        let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|rest| rest.strip_suffix("-----"))
        else {
            continue;
        };
        if !accept(label) {
            continue;
        }
        let end = format!("-----END {label}-----");
        let mut headers = Vec::new();
        let mut body = Zeroizing::new(String::new());
        let mut closed = false;
        for line in lines.by_ref() {
            if line == end {
                closed = true;
                break;
            }
            if line.is_empty() {
                continue;
            }
            // Base64 has no colon, so a line with one is an RFC 1421 header.
            if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim().to_owned(), value.trim().to_owned()));
            } else {
                body.push_str(line);
            }
        }
        if !closed {
            return Err(KeyError::MalformedPem {
                label: label.to_owned(),
                reason: format!("no {end} line"),
            });
        }
        let der = STANDARD
            .decode(body.as_bytes())
            .map_err(|e| KeyError::MalformedPem {
                label: label.to_owned(),
                reason: format!("invalid base64: {e}"),
            })?;
        return Ok(PemBlock {
            label: label.to_owned(),
            headers,
            der: Zeroizing::new(der),
        });
    }
    Err(KeyError::NoPemBlock { expected })
}

/// Decrypts the body of a legacy `Proc-Type: 4,ENCRYPTED` block, returning the plain DER.
pub(crate) fn decrypt_legacy(
    block: &PemBlock,
    passphrase: &[u8],
) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let dek_info = block
        .header("DEK-Info")
        .ok_or_else(|| KeyError::UnsupportedEncryption("Proc-Type without DEK-Info".into()))?;
    let (cipher, iv_hex) = dek_info
        .split_once(',')
        .ok_or_else(|| KeyError::UnsupportedEncryption(format!("DEK-Info {dek_info}")))?;
    let cipher = cipher.trim().to_ascii_uppercase();
    let iv = hex::decode(iv_hex.trim())
        .map_err(|_| KeyError::UnsupportedEncryption(format!("DEK-Info IV {iv_hex}")))?;
    let (key_len, iv_len) = match cipher.as_str() {
        "AES-128-CBC" => (16, 16),
        "AES-192-CBC" => (24, 16),
        "AES-256-CBC" => (32, 16),
        "DES-EDE3-CBC" => (24, 8),
        other => return Err(KeyError::UnsupportedEncryption(other.to_owned())),
    };
    if iv.len() != iv_len {
        return Err(KeyError::UnsupportedEncryption(format!(
            "{cipher} with a {}-byte IV",
            iv.len()
        )));
    }
    // OpenSSL derives the key with EVP_BytesToKey(MD5, one round) salted by the IV's first
    // eight bytes.
    let key = evp_bytes_to_key(passphrase, &iv[..8], key_len);
    let data: &[u8] = &block.der;
    let plain = match cipher.as_str() {
        "AES-128-CBC" => decrypt_cbc::<aes::Aes128>(&key, &iv, data),
        "AES-192-CBC" => decrypt_cbc::<aes::Aes192>(&key, &iv, data),
        "AES-256-CBC" => decrypt_cbc::<aes::Aes256>(&key, &iv, data),
        _ => decrypt_cbc::<des::TdesEde3>(&key, &iv, data),
    }?;
    Ok(plain)
}

fn decrypt_cbc<C>(key: &[u8], iv: &[u8], data: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError>
where
    C: aes::cipher::BlockCipher + aes::cipher::BlockDecrypt + aes::cipher::KeyInit,
{
    let decryptor = cbc::Decryptor::<C>::new_from_slices(key, iv)
        .map_err(|_| KeyError::UnsupportedEncryption("key or IV length".into()))?;
    // A padding error is what a wrong pass phrase almost always produces.
    decryptor
        .decrypt_padded_vec_mut::<Pkcs7>(data)
        .map(Zeroizing::new)
        .map_err(|_| KeyError::WrongPassphrase)
}

fn evp_bytes_to_key(passphrase: &[u8], salt: &[u8], key_len: usize) -> Zeroizing<Vec<u8>> {
    let mut key = Zeroizing::new(Vec::with_capacity(key_len + 16));
    let mut previous: Option<Zeroizing<Vec<u8>>> = None;
    while key.len() < key_len {
        let mut hasher = Md5::new();
        if let Some(prev) = &previous {
            hasher.update(prev.as_slice());
        }
        hasher.update(passphrase);
        hasher.update(salt);
        let digest = Zeroizing::new(hasher.finalize().to_vec());
        key.extend_from_slice(&digest);
        previous = Some(digest);
    }
    key.truncate(key_len);
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_block_among_other_text_and_keeps_headers() {
        let text = "garbage\r\n-----BEGIN X-----\r\nProc-Type: 4,ENCRYPTED\r\nDEK-Info: AES-128-CBC,00\r\n\r\naGVs\r\nbG8=\r\n-----END X-----\r\nOCI_API_KEY\r\n";
        let block = find_block(text, "X", |l| l == "X").unwrap();
        assert_eq!(block.label, "X");
        assert_eq!(block.der.as_slice(), b"hello");
        assert!(block.is_legacy_encrypted());
        assert_eq!(block.header("dek-info"), Some("AES-128-CBC,00"));
    }

    #[test]
    fn unterminated_block_is_an_error() {
        let err = find_block("-----BEGIN X-----\naGVsbG8=\n", "X", |_| true)
            .err()
            .unwrap();
        assert!(matches!(err, KeyError::MalformedPem { .. }));
    }

    #[test]
    fn evp_bytes_to_key_matches_openssl() {
        // `openssl enc -aes-256-cbc -P -md md5 -pass pass:secret -S 0102030405060708`
        let key = evp_bytes_to_key(b"secret", &[1, 2, 3, 4, 5, 6, 7, 8], 32);
        assert_eq!(
            hex::encode(key.as_slice()),
            "c9e5a1bd216dbe1317e230cef48f38ee7f0e17ad64022144bccec4a1aa2879ab"
        );
    }
}
