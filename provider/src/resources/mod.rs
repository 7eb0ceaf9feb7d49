//! Every resource type the provider serves, registered once here.

use std::sync::Arc;

use crate::resource::Resource;

pub mod esb_resources;
pub mod galley_session;

pub fn all() -> Vec<Arc<dyn Resource>> {
    vec![
        Arc::new(esb_resources::EsbResources),
        Arc::new(galley_session::GalleySession),
    ]
}
