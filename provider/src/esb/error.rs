//! The error type of the ESB clients and engine. Every variant that comes from a server names
//! the service, the endpoint, what was being done, and the server's own code and message.

use std::fmt;
use std::time::Duration;

use super::reconcile::ChangeProblem;

/// Which server a call went to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    DynamoDb,
    S3,
}

impl Service {
    /// The Terraform attribute that sets this service's endpoint.
    pub fn endpoint_attribute(self) -> &'static str {
        match self {
            Service::DynamoDb => "dynamodb_endpoint",
            Service::S3 => "s3_endpoint",
        }
    }

    /// The environment variable that provides the default endpoint.
    pub fn endpoint_env(self) -> &'static str {
        match self {
            Service::DynamoDb => "DYNAMODB_ENDPOINT",
            Service::S3 => "S3_ENDPOINT",
        }
    }

    /// The SigV4 signing name.
    pub(crate) fn signing_name(self) -> &'static str {
        match self {
            Service::DynamoDb => "dynamodb",
            Service::S3 => "s3",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Service::DynamoDb => "DynamoDB",
            Service::S3 => "S3",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EsbError {
    #[error(
        "failed to {action}: {service} at {endpoint} rejected the credentials \
         ({code}: {message}); check access_key/secret_key"
    )]
    Auth {
        service: Service,
        endpoint: String,
        action: String,
        code: String,
        message: String,
    },

    #[error(
        "failed to {action}: {service} at {endpoint} answered {code}: {message} (HTTP {status})"
    )]
    Service {
        service: Service,
        endpoint: String,
        action: String,
        status: u16,
        code: String,
        message: String,
    },

    #[error(
        "failed to {action}: could not reach {service} at {endpoint} after {attempts} attempts: {detail}"
    )]
    Unreachable {
        service: Service,
        endpoint: String,
        action: String,
        attempts: u32,
        detail: String,
    },

    #[error(
        "failed to {action}: {service} at {endpoint} sent a response that could not be read: {detail}"
    )]
    Decode {
        service: Service,
        endpoint: String,
        action: String,
        detail: String,
    },

    #[error("failed to {action}: no {service} endpoint is set: set {} or the {} environment variable", service.endpoint_attribute(), service.endpoint_env())]
    MissingEndpoint { service: Service, action: String },

    #[error("failed to use {} `{value}`: {reason}", service.endpoint_attribute())]
    InvalidEndpoint {
        service: Service,
        value: String,
        reason: String,
    },

    #[error("failed to sign the {service} request to {action}: {detail}")]
    Signing {
        service: Service,
        action: String,
        detail: String,
    },

    #[error(
        "failed to wait for table {table} at {endpoint}: it is still {status} after {:.1}s; \
         raise the wait timeout or check the server",
        waited.as_secs_f64()
    )]
    WaitTimeout {
        endpoint: String,
        table: String,
        status: String,
        waited: Duration,
    },

    #[error(
        "failed to delete bucket {bucket} at {endpoint}: it is not empty; set \
         force_destroy = true to delete it with its objects, or empty it first"
    )]
    BucketNotEmpty { endpoint: String, bucket: String },

    #[error(
        "failed to create bucket {bucket} at {endpoint}: the name is taken by another owner \
         (BucketAlreadyExists); choose another BucketName"
    )]
    BucketTaken { endpoint: String, bucket: String },

    #[error(
        "failed to {action}: stopped because Terraform was interrupted; what was created so far \
         is kept in state, and the next apply continues from there"
    )]
    Stopped { action: String },

    #[error("failed to apply the resources file: {}", ChangeProblem::describe_all(.0))]
    NeedsReplacement(Vec<ChangeProblem>),
}

impl EsbError {
    /// The server's error code, when the error came from a server's answer.
    pub fn code(&self) -> Option<&str> {
        match self {
            EsbError::Auth { code, .. } | EsbError::Service { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The service the error is about, when it is about one: the resource points its
    /// diagnostic at that service's endpoint attribute.
    pub fn service(&self) -> Option<Service> {
        match self {
            EsbError::Auth { service, .. }
            | EsbError::Service { service, .. }
            | EsbError::Unreachable { service, .. }
            | EsbError::Decode { service, .. }
            | EsbError::MissingEndpoint { service, .. }
            | EsbError::InvalidEndpoint { service, .. }
            | EsbError::Signing { service, .. } => Some(*service),
            EsbError::WaitTimeout { .. } => Some(Service::DynamoDb),
            EsbError::BucketNotEmpty { .. } | EsbError::BucketTaken { .. } => Some(Service::S3),
            EsbError::NeedsReplacement(_) | EsbError::Stopped { .. } => None,
        }
    }

    /// True for errors caused by the credentials.
    pub fn is_auth(&self) -> bool {
        matches!(self, EsbError::Auth { .. })
    }
}
