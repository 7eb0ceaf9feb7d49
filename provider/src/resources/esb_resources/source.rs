//! The resources file `esb_resources` provisions, as text: read from `resources_file` or taken
//! from `resources_yaml`, with the attribute it came from (diagnostics point there), its digest
//! and its parsed [`EsbSpec`].

use sha2::{Digest, Sha256};

use super::model::Model;
use super::report;
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::esb::EsbSpec;

pub(super) struct Source {
    /// `resources_file` or `resources_yaml`.
    pub(super) attribute: &'static str,
    /// The file's path, or `resources_yaml`; messages name it.
    pub(super) name: String,
    pub(super) text: String,
}

impl Source {
    /// The text the model names. `Ok(None)`: not known yet (a plan with an unknown input).
    pub(super) fn read(m: &Model) -> Result<Option<Source>, Diagnostic> {
        if m.resources_file.is_unknown() || m.resources_yaml.is_unknown() {
            return Ok(None);
        }
        match (m.resources_file.known(), m.resources_yaml.known()) {
            (Some(path), None) => Source::file(path)
                .map(Some)
                .map_err(|e| report::unreadable_file(path, &e)),
            (None, Some(text)) => Ok(Some(Source::inline(text))),
            _ => Err(report::exactly_one()),
        }
    }

    pub(super) fn file(path: &str) -> std::io::Result<Source> {
        Ok(Source {
            attribute: "resources_file",
            name: path.to_owned(),
            text: std::fs::read_to_string(path)?,
        })
    }

    pub(super) fn inline(text: &str) -> Source {
        Source {
            attribute: "resources_yaml",
            name: "resources_yaml".into(),
            text: text.to_owned(),
        }
    }

    /// The spec, with a warning for each entry that is accepted but not provisioned.
    pub(super) fn parse(&self) -> Result<(EsbSpec, Diagnostics), Diagnostics> {
        match EsbSpec::parse(&self.name, &self.text) {
            Ok(spec) => {
                let warnings = report::spec_warnings(&spec, self.attribute);
                Ok((spec, warnings))
            }
            Err(err) => Err(report::spec_error(&err, self.attribute)),
        }
    }

    /// `source_sha256`: a change to the text shows in the plan.
    pub(super) fn sha256(&self) -> String {
        hex::encode(Sha256::digest(self.text.as_bytes()))
    }
}
