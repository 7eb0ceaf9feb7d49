//! Region, realm and service endpoint resolution, and the per-service overrides.

use galley_oci::endpoints::{
    EndpointError, Endpoints, Region, Service, canonical_region_name, realm_domain,
};

#[test]
fn short_codes_resolve_to_region_names() {
    for (code, name) in [
        ("iad", "us-ashburn-1"),
        ("phx", "us-phoenix-1"),
        ("fra", "eu-frankfurt-1"),
        ("lhr", "uk-london-1"),
        ("nrt", "ap-tokyo-1"),
        ("ORD", "us-chicago-1"),
    ] {
        assert_eq!(canonical_region_name(code).as_deref(), Some(name), "{code}");
    }
    assert_eq!(
        canonical_region_name(" US-Ashburn-1 ").as_deref(),
        Some("us-ashburn-1")
    );
    assert_eq!(canonical_region_name(""), None);
    assert_eq!(canonical_region_name("us ashburn"), None);
}

#[test]
fn realms_map_to_their_domains() {
    for (realm, domain) in [
        ("oc1", "oraclecloud.com"),
        ("oc2", "oraclegovcloud.com"),
        ("oc3", "oraclegovcloud.com"),
        ("oc4", "oraclegovcloud.uk"),
        ("oc8", "oraclecloud8.com"),
        ("oc19", "oraclecloud.eu"),
    ] {
        assert_eq!(realm_domain(realm), Some(domain), "{realm}");
    }
    assert_eq!(realm_domain("oc999"), None);
    let gov = Region::resolve("us-langley-1").unwrap();
    assert_eq!((gov.realm(), gov.domain()), ("oc2", "oraclegovcloud.com"));
    let uk = Region::resolve("ltn").unwrap();
    assert_eq!(
        (uk.name(), uk.domain()),
        ("uk-gov-london-1", "oraclegovcloud.uk")
    );
    let eu = Region::resolve("eu-madrid-2").unwrap();
    assert_eq!(eu.domain(), "oraclecloud.eu");
    // A region the table does not know yet is taken as commercial, as the SDKs do.
    let new = Region::resolve("xx-newcity-1").unwrap();
    assert_eq!((new.realm(), new.domain()), ("oc1", "oraclecloud.com"));
}

#[test]
fn service_base_urls_follow_the_sdk_templates() {
    let endpoints = Endpoints::new();
    assert_eq!(
        endpoints
            .base_url_for(Service::ResourceManager, "iad")
            .unwrap(),
        "https://resourcemanager.us-ashburn-1.oraclecloud.com/20180917"
    );
    assert_eq!(
        endpoints
            .base_url_for(Service::InstanceAgent, "fra")
            .unwrap(),
        "https://iaas.eu-frankfurt-1.oci.oraclecloud.com/20180530"
    );
    assert_eq!(
        endpoints
            .base_url_for(Service::ObjectStorage, "uk-gov-london-1")
            .unwrap(),
        "https://objectstorage.uk-gov-london-1.oraclegovcloud.uk"
    );
    assert_eq!(
        endpoints
            .base_url_for(Service::Auth, "eu-frankfurt-2")
            .unwrap(),
        "https://auth.eu-frankfurt-2.oraclecloud.eu"
    );
    assert!(matches!(
        endpoints.base_url_for(Service::ObjectStorage, "not a region"),
        Err(EndpointError::InvalidRegion { .. })
    ));
}

#[test]
fn overrides_replace_the_host_and_keep_the_version_path() {
    let endpoints = Endpoints::new()
        .with(Service::ResourceManager, "http://127.0.0.1:8080/")
        .unwrap()
        .with(
            "object_storage".parse().unwrap(),
            "http://localhost:9000/prefix",
        )
        .unwrap();
    assert_eq!(
        endpoints
            .base_url_for(Service::ResourceManager, "iad")
            .unwrap(),
        "http://127.0.0.1:8080/20180917"
    );
    assert_eq!(
        endpoints.base_url(Service::ObjectStorage, None).unwrap(),
        "http://localhost:9000/prefix"
    );
    // Services without an override still use the region.
    assert_eq!(
        endpoints
            .base_url_for(Service::InstanceAgent, "phx")
            .unwrap(),
        "https://iaas.us-phoenix-1.oci.oraclecloud.com/20180530"
    );
    assert!(matches!(
        endpoints.base_url(Service::InstanceAgent, None),
        Err(EndpointError::NoRegion { .. })
    ));
    let mut bad = Endpoints::new();
    for url in ["ftp://x", "not a url", "http://h/x?q=1", "/relative"] {
        assert!(
            matches!(
                bad.set(Service::Auth, url),
                Err(EndpointError::InvalidOverride { .. })
            ),
            "{url}"
        );
    }
    assert!("compute".parse::<Service>().unwrap() == Service::InstanceAgent);
    assert!("dns".parse::<Service>().is_err());
}

#[test]
fn overrides_from_the_provider_block_pairs() {
    let endpoints = Endpoints::from_pairs([
        ("resource_manager", "http://127.0.0.1:1"),
        ("instance_agent", ""),
        ("objectstorage", "http://127.0.0.1:2"),
    ])
    .unwrap();
    assert_eq!(
        endpoints.override_for(Service::ResourceManager),
        Some("http://127.0.0.1:1")
    );
    assert_eq!(endpoints.override_for(Service::InstanceAgent), None);
    assert_eq!(
        endpoints.override_for(Service::ObjectStorage),
        Some("http://127.0.0.1:2")
    );
    assert!(matches!(
        Endpoints::from_pairs([("dns", "http://x")]),
        Err(EndpointError::UnknownService(_))
    ));
}
