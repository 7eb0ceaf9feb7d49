//! Identifiers: OCIDs, request ids, opaque tokens, and the check that an id from a URL is
//! harmless before it names anything on disk.

use rand::Rng;
use rand::distributions::Alphanumeric;

const OCID_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// A fresh OCID of `kind` (`ormstack`, `ormjob`, `instanceagentcommand`...), in the
/// `ocid1.<kind>.oc1..<unique>` form OCI uses for resources without a region segment.
pub fn ocid(kind: &str) -> String {
    let mut rng = rand::thread_rng();
    let unique: String = (0..60)
        .map(|_| OCID_ALPHABET[rng.gen_range(0..OCID_ALPHABET.len())] as char)
        .collect();
    format!("ocid1.{kind}.oc1..{unique}")
}

/// A request id in OCI's style: upper-case hex.
pub fn request_id() -> String {
    let bytes: [u8; 16] = rand::thread_rng().r#gen();
    hex::encode_upper(bytes)
}

/// A random URL-safe token of `len` characters (pre-authenticated request tokens and ids).
pub fn token(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// True when `id` is an OCID this engine could have issued: only lowercase letters, digits and
/// dots after `ocid1.`, so it is one path component (never `.` or `..`) and can name a file.
pub fn is_safe_ocid(id: &str) -> bool {
    id.starts_with("ocid1.")
        && id.len() <= 255
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ocids_have_the_oci_shape_and_are_safe() {
        let id = ocid("ormstack");
        assert!(id.starts_with("ocid1.ormstack.oc1.."));
        assert_eq!(id.len(), "ocid1.ormstack.oc1..".len() + 60);
        assert!(is_safe_ocid(&id));
        assert!(!is_safe_ocid("ocid1.x/../../etc"));
        assert!(!is_safe_ocid("../x"));
        assert_ne!(ocid("a"), ocid("a"));
    }
}
