//! The last lines of a remote log (a Resource Manager job's, a build command's output), kept
//! for messages and for parsing once the operation ends. What the lines mean (plan summary,
//! Terraform errors) is read by `galley_contract::tf_output`, shared with the sidecar.

use std::collections::VecDeque;

/// The last `capacity` lines seen.
#[derive(Clone, Debug)]
pub struct LineTail {
    capacity: usize,
    lines: VecDeque<String>,
}

impl LineTail {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            lines: VecDeque::with_capacity(capacity),
        }
    }

    pub fn push(&mut self, line: &str) {
        if self.capacity == 0 {
            return;
        }
        if self.lines.len() == self.capacity {
            self.lines.pop_front();
        }
        self.lines.push_back(line.trim_end().to_owned());
    }

    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.lines.iter().map(String::as_str)
    }

    /// The lines joined with newlines.
    pub fn text(&self) -> String {
        self.lines().collect::<Vec<_>>().join("\n")
    }
}

/// The last `n` lines of `text`.
pub fn last_lines(text: &str, n: usize) -> String {
    let mut tail = LineTail::new(n);
    for line in text.lines() {
        tail.push(line);
    }
    tail.text()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tails_keep_the_last_lines() {
        assert_eq!(last_lines("a\nb\nc\nd", 2), "c\nd");
        assert_eq!(last_lines("a", 5), "a");
        assert_eq!(last_lines("", 5), "");
    }
}
