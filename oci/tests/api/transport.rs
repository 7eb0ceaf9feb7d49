//! The transport against a loopback stand-in: retries and their token, what is never retried,
//! error messages, 401 refresh, timeouts and cancellation.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use galley_oci::client::{Client, OciError, Request, RetryPolicy};
use galley_oci::object_storage::{CreateBucketDetails, ObjectStorageClient};
use galley_oci::resource_manager::{
    CreateConfigSourceDetails, CreateStackDetails, ResourceManagerClient, StackLifecycleState,
};
use galley_oci::signing::{Credentials, KeyId, KeyProvider, ProviderFuture, PublicKey};
use http::Method;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::stand_in::{Canned, closed_port_url, serve};
use crate::{api_key_client, api_key_lookup, fast_retries, util};

fn stack_details() -> CreateStackDetails {
    let mut details = CreateStackDetails::new(
        "ocid1.compartment.oc1..c",
        CreateConfigSourceDetails::zip(b"PK-zip-bytes", Some("infra".into())),
    );
    details.display_name = Some("demo".into());
    details.terraform_version = Some("1.5.x".into());
    details
}

fn stack_json(id: &str) -> serde_json::Value {
    json!({
        "id": id,
        "compartmentId": "ocid1.compartment.oc1..c",
        "displayName": "demo",
        "lifecycleState": "ACTIVE",
        "configSource": {"configSourceType": "ZIP_UPLOAD", "workingDirectory": "infra"},
        "terraformVersion": "1.5.x",
        "someFieldAddedLater": {"x": 1}
    })
}

#[tokio::test]
async fn create_stack_retries_429_then_500_with_one_retry_token() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let server = serve(move |request| {
        // A real service checks every attempt's signature.
        if let Err(e) = request.verify(false, api_key_lookup) {
            return Canned::error(401, "NotAuthenticated", &e.to_string());
        }
        match counter.fetch_add(1, Ordering::SeqCst) {
            0 => Canned::error(429, "TooManyRequests", "slow down").header("retry-after", "1"),
            1 => Canned::error(500, "InternalServerError", "oops"),
            _ => Canned::json(200, stack_json("ocid1.ormstack.oc1..s1")).header("etag", "e1"),
        }
    })
    .await;
    let rm = ResourceManagerClient::new(api_key_client(), format!("{}/20180917", server.base));

    let started = Instant::now();
    let reply = rm.create_stack(&stack_details()).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "Retry-After: 1 was honoured"
    );
    assert_eq!(reply.id, "ocid1.ormstack.oc1..s1");
    assert_eq!(reply.lifecycle_state, StackLifecycleState::Active);
    assert_eq!(reply.etag.as_deref(), Some("e1"));
    assert_eq!(reply.opc_request_id.as_deref(), Some("stand-in-3"));

    let requests = server.requests();
    assert_eq!(requests.len(), 3, "two retries, one stack");
    let tokens: Vec<String> = requests
        .iter()
        .map(|r| {
            r.header("opc-retry-token")
                .expect("every attempt has the token")
        })
        .collect();
    assert!(!tokens[0].is_empty());
    assert!(tokens.iter().all(|t| *t == tokens[0]), "{tokens:?}");
    for request in &requests {
        assert_eq!(request.method, Method::POST);
        assert_eq!(request.path_and_query, "/20180917/stacks");
        let body = request.json();
        assert_eq!(body["compartmentId"], "ocid1.compartment.oc1..c");
        assert_eq!(body["configSource"]["configSourceType"], "ZIP_UPLOAD");
        assert_eq!(
            body["configSource"]["zipFileBase64Encoded"],
            "UEstemlwLWJ5dGVz"
        );
        assert_eq!(body["configSource"]["workingDirectory"], "infra");
        assert_eq!(body["terraformVersion"], "1.5.x");
    }
    // A second logical create gets a new token.
    let _ = rm.create_stack(&stack_details()).await.unwrap();
    let fourth = server.requests()[3].header("opc-retry-token").unwrap();
    assert_ne!(fourth, tokens[0]);
}

#[tokio::test]
async fn conflict_is_not_retried_and_the_error_says_code_message_and_request_id() {
    let server = serve(|_| {
        Canned::error(409, "Conflict", "a stack with this name is being deleted")
            .header("opc-request-id", "req-409")
    })
    .await;
    let rm = ResourceManagerClient::new(api_key_client(), format!("{}/20180917", server.base));
    let err = rm.create_stack(&stack_details()).await.unwrap_err();
    assert_eq!(server.count(), 1);
    assert_eq!(err.status(), Some(409));
    assert_eq!(err.code(), Some("Conflict"));
    assert_eq!(err.opc_request_id(), Some("req-409"));
    assert_eq!(
        err.to_string(),
        "failed to CreateStack: 409 Conflict: a stack with this name is being deleted (opc-request-id req-409)"
    );
}

#[tokio::test]
async fn incorrect_state_is_retried_and_not_found_is_not() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let server = serve(move |request| {
        if request.path().ends_with("/missing") {
            return Canned::error(404, "NotAuthorizedOrNotFound", "not found");
        }
        match counter.fetch_add(1, Ordering::SeqCst) {
            0 | 1 => Canned::error(409, "IncorrectState", "stack is busy"),
            _ => Canned::json(200, stack_json("s")),
        }
    })
    .await;
    let rm = ResourceManagerClient::new(api_key_client(), format!("{}/20180917", server.base));
    rm.get_stack("s").await.unwrap();
    assert_eq!(server.count(), 3);
    let err = rm.get_stack("missing").await.unwrap_err();
    assert!(err.is_not_found());
    assert_eq!(server.count(), 4);
    assert!(
        err.to_string()
            .contains("failed to GetStack: 404 NotAuthorizedOrNotFound")
    );
}

#[tokio::test]
async fn retries_stop_at_max_attempts_with_the_last_error() {
    let server = serve(|_| Canned::error(503, "ServiceUnavailable", "down")).await;
    let client = api_key_client().with_retry_policy(RetryPolicy {
        max_attempts: 3,
        ..fast_retries()
    });
    let rm = ResourceManagerClient::new(client, format!("{}/20180917", server.base));
    let err = rm.get_stack("s").await.unwrap_err();
    assert_eq!(server.count(), 3);
    assert!(err.to_string().ends_with("after 3 attempts"), "{err}");

    let none = ResourceManagerClient::new(
        api_key_client().with_retry_policy(RetryPolicy::none()),
        format!("{}/20180917", server.base),
    );
    none.get_stack("s").await.unwrap_err();
    assert_eq!(server.count(), 4);
}

#[tokio::test]
async fn a_post_without_retry_token_is_not_resent_after_a_5xx() {
    let server = serve(|request| {
        if request.header("opc-retry-token").is_some() {
            return Canned::error(400, "Unexpected", "CreateBucket has no retry token");
        }
        Canned::error(500, "InternalServerError", "maybe created")
    })
    .await;
    let os = ObjectStorageClient::new(api_key_client(), server.base.clone());
    let err = os
        .create_bucket("ns", &CreateBucketDetails::new("b", "c"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn connection_failures_are_retried_then_reported() {
    let url = closed_port_url().await;
    let rm = ResourceManagerClient::new(
        api_key_client().with_retry_policy(RetryPolicy {
            max_attempts: 3,
            ..fast_retries()
        }),
        format!("{url}/20180917"),
    );
    let err = rm.get_stack("s").await.unwrap_err();
    match &err {
        OciError::Transport {
            attempts, url: u, ..
        } => {
            assert_eq!(*attempts, 3);
            assert!(u.starts_with(&url));
        }
        other => panic!("expected a transport error, got {other:?}"),
    }
    assert!(
        err.to_string()
            .starts_with("failed to GetStack: could not reach")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_answer_times_out_per_attempt() {
    let server = serve(|_| {
        std::thread::sleep(Duration::from_millis(400));
        Canned::json(200, stack_json("s"))
    })
    .await;
    let client = api_key_client()
        .with_timeout(Duration::from_millis(100))
        .with_retry_policy(RetryPolicy {
            max_attempts: 2,
            ..fast_retries()
        });
    let rm = ResourceManagerClient::new(client, format!("{}/20180917", server.base));
    let err = rm.get_stack("s").await.unwrap_err();
    assert!(
        matches!(err, OciError::Timeout { attempts: 2, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn cancellation_cuts_a_retry_wait_short() {
    let server =
        serve(|_| Canned::error(429, "TooManyRequests", "later").header("retry-after", "30")).await;
    let token = CancellationToken::new();
    let client = api_key_client()
        .with_retry_policy(RetryPolicy {
            max_retry_after: Duration::from_secs(60),
            max_elapsed: Duration::from_secs(120),
            ..fast_retries()
        })
        .with_cancellation(token.clone());
    let rm = ResourceManagerClient::new(client, format!("{}/20180917", server.base));
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        token.cancel();
    });
    let started = Instant::now();
    let err = rm.get_stack("s").await.unwrap_err();
    canceller.await.unwrap();
    assert!(err.is_cancelled(), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(err.to_string(), "failed to GetStack: cancelled");
}

/// A session-token provider that hands out token `n` until refreshed.
struct CountingSessionProvider {
    refreshes: AtomicUsize,
}

impl KeyProvider for CountingSessionProvider {
    fn credentials(&self) -> ProviderFuture<'_, Credentials> {
        let n = self.refreshes.load(Ordering::SeqCst);
        Box::pin(async move {
            Ok(Credentials::new(
                KeyId::session_token(&format!("token-{n}")),
                util::test_key(),
            ))
        })
    }

    fn refresh(&self) -> ProviderFuture<'_, ()> {
        self.refreshes.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Ok(()) })
    }
}

#[tokio::test]
async fn a_401_with_a_session_token_refreshes_once_and_resends() {
    let public = util::test_key().public_key();
    let server = serve(move |request| {
        let accepted = |id: &KeyId| -> Option<PublicKey> {
            (id.session_token_value() == Some("token-1")).then(|| public.clone())
        };
        match request.verify(false, accepted) {
            Ok(_) => Canned::json(200, stack_json("s")),
            Err(_) => Canned::error(401, "NotAuthenticated", "token revoked"),
        }
    })
    .await;
    let provider = Arc::new(CountingSessionProvider {
        refreshes: AtomicUsize::new(0),
    });
    let client = Client::builder(provider.clone())
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let rm = ResourceManagerClient::new(client, format!("{}/20180917", server.base));
    rm.get_stack("s").await.unwrap();
    assert_eq!(provider.refreshes.load(Ordering::SeqCst), 1);
    assert_eq!(server.count(), 2);

    // Still rejected after the refresh: the 401 is reported, with no second refresh.
    provider.refreshes.store(5, Ordering::SeqCst);
    let err = rm.get_stack("s").await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert_eq!(provider.refreshes.load(Ordering::SeqCst), 6);
    assert_eq!(server.count(), 4);
}

#[tokio::test]
async fn a_401_with_an_api_key_is_not_resent() {
    let server = serve(|_| Canned::error(401, "NotAuthenticated", "bad key")).await;
    let rm = ResourceManagerClient::new(api_key_client(), format!("{}/20180917", server.base));
    let err = rm.get_stack("s").await.unwrap_err();
    assert!(err.is_auth());
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn undecodable_success_bodies_carry_the_request_id() {
    let server = serve(|_| {
        Canned::bytes(200, "application/json", b"not json").header("opc-request-id", "req-bad")
    })
    .await;
    let rm = ResourceManagerClient::new(api_key_client(), format!("{}/20180917", server.base));
    let err = rm.get_stack("s").await.unwrap_err();
    assert!(matches!(err, OciError::Decode { .. }));
    assert!(
        err.to_string().contains("(opc-request-id req-bad)"),
        "{err}"
    );
}

#[tokio::test]
async fn requests_carry_a_client_request_id_and_user_agent() {
    let server = serve(|_| Canned::json(200, json!({}))).await;
    let client = api_key_client();
    let response = client
        .send(Request::new(
            "Probe",
            Method::GET,
            format!("{}/probe", server.base),
        ))
        .await
        .unwrap();
    let request = &server.requests()[0];
    let sent = request.header("opc-request-id").unwrap();
    assert_eq!(sent.len(), 32);
    assert!(
        request
            .header("user-agent")
            .unwrap()
            .starts_with("galley-oci/")
    );
    // The stand-in answered with its own id, which wins.
    assert_eq!(response.opc_request_id.as_deref(), Some("stand-in-1"));
}
