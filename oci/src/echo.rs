//! Bounded echoes of untrusted text (names, keys, header values a client or a file supplied)
//! in error messages and logs.
//!
//! An error that quotes its input helps, until the input is ten megabytes long: then the error
//! is ten megabytes too, copied into every diagnostic, log line and response that carries it.
//! [`echo`] shows short text as it is and long text as a recognisable prefix plus its length,
//! so a message stays small whatever it quotes. Every crate of the workspace quotes user input
//! through this one function.

use std::fmt;

/// Text up to this many characters is echoed whole: every name the services accept (table,
/// bucket, object, OCID) fits.
pub const MAX_ECHO_CHARS: usize = 256;

/// How many leading characters of longer text are shown.
pub const ECHO_PREFIX_CHARS: usize = 64;

/// Free text from a server (an error message) is echoed whole up to this many characters;
/// longer text keeps this many.
pub const MAX_MESSAGE_CHARS: usize = 1024;

/// `text` for a message: as is up to [`MAX_ECHO_CHARS`] characters, else its first
/// [`ECHO_PREFIX_CHARS`] characters followed by `... (N bytes)`.
pub fn echo(text: &str) -> Echo<'_> {
    Echo {
        text,
        max: MAX_ECHO_CHARS,
        prefix: ECHO_PREFIX_CHARS,
    }
}

/// A server's error message for a message of ours: as is up to [`MAX_MESSAGE_CHARS`]
/// characters, else that many followed by `... (N bytes)`.
pub fn echo_message(text: &str) -> Echo<'_> {
    Echo {
        text,
        max: MAX_MESSAGE_CHARS,
        prefix: MAX_MESSAGE_CHARS,
    }
}

/// The display form of [`echo`] and [`echo_message`]; `to_string()` gives the bounded text.
#[derive(Clone, Copy)]
pub struct Echo<'a> {
    text: &'a str,
    max: usize,
    prefix: usize,
}

impl Echo<'_> {
    /// The shown part, when the text is too long to show whole.
    fn cut(&self) -> Option<&str> {
        self.text.char_indices().nth(self.max)?;
        let end = self
            .text
            .char_indices()
            .nth(self.prefix)
            .map_or(self.text.len(), |(i, _)| i);
        Some(&self.text[..end])
    }
}

impl fmt::Display for Echo<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.cut() {
            None => f.write_str(self.text),
            Some(head) => write!(f, "{head}... ({} bytes)", self.text.len()),
        }
    }
}

impl fmt::Debug for Echo<'_> {
    /// Quoted like `{:?}` of a `str`, with the same bound.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.cut() {
            None => fmt::Debug::fmt(self.text, f),
            Some(head) => write!(f, "{head:?}... ({} bytes)", self.text.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_echoed_whole() {
        assert_eq!(echo("orders").to_string(), "orders");
        let limit = "é".repeat(MAX_ECHO_CHARS);
        assert_eq!(echo(&limit).to_string(), limit);
        assert_eq!(format!("{:?}", echo("a\"b")), "\"a\\\"b\"");
    }

    #[test]
    fn long_text_becomes_a_prefix_and_its_length() {
        let huge = format!("orders-{}", "x".repeat(10 * 1024 * 1024));
        let shown = echo(&huge).to_string();
        assert!(shown.starts_with("orders-xxx"), "{shown}");
        assert!(
            shown.ends_with(&format!("... ({} bytes)", huge.len())),
            "{shown}"
        );
        assert!(shown.len() < 100, "{}", shown.len());
        let debug = format!("{:?}", echo(&huge));
        assert!(
            debug.starts_with("\"orders-") && debug.len() < 100,
            "{debug}"
        );
        // Multi-byte characters are never split.
        let wide = "ü".repeat(MAX_ECHO_CHARS + 1);
        assert!(
            echo(&wide)
                .to_string()
                .starts_with(&"ü".repeat(ECHO_PREFIX_CHARS))
        );
    }

    #[test]
    fn server_messages_keep_more_but_are_bounded_too() {
        let message = "m".repeat(MAX_MESSAGE_CHARS);
        assert_eq!(echo_message(&message).to_string(), message);
        let huge = "m".repeat(5_000_000);
        let shown = echo_message(&huge).to_string();
        assert!(shown.ends_with("... (5000000 bytes)"), "{}", &shown[1000..]);
        assert!(shown.len() < MAX_MESSAGE_CHARS + 40);
    }
}
