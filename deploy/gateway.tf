# The public face: HTTPS on an OCI-managed hostname, forwarding to the sidecar's private address.
# The gateway only checks that the `token` query parameter is present (OCI has no constant-time
# compare of a value against a secret); the sidecar compares the value with GALLEY_URL_TOKEN.

resource "oci_apigateway_gateway" "galley" {
  compartment_id = var.compartment_ocid
  endpoint_type  = "PUBLIC"
  subnet_id      = oci_core_subnet.public.id
  display_name   = format("%s-gateway", var.name_prefix)
}

resource "oci_apigateway_deployment" "galley" {
  compartment_id = var.compartment_ocid
  gateway_id     = oci_apigateway_gateway.galley.id
  path_prefix    = "/galley"
  display_name   = format("%s-mcp", var.name_prefix)

  specification {
    request_policies {
      # Per client address, so one caller guessing tokens cannot starve the others.
      rate_limiting {
        rate_in_requests_per_second = var.gateway_rate_limit
        rate_key                    = "CLIENT_IP"
      }
    }

    # MCP over Streamable HTTP: POST carries requests, GET opens the server's event stream,
    # DELETE ends a session of the older protocol revisions.
    routes {
      path    = "/mcp"
      methods = ["GET", "POST", "DELETE"]

      backend {
        type = "HTTP_BACKEND"
        url  = format("http://%s:8000/mcp", var.sidecar_private_ip)
        # Plans and applies stream progress for many minutes. 300 s is the longest the service
        # allows between two reads; the sidecar sends an SSE keep-alive every 15 s, well inside.
        connect_timeout_in_seconds = 60
        read_timeout_in_seconds    = 300
        send_timeout_in_seconds    = 300
      }

      request_policies {
        query_parameter_validations {
          validation_mode = "ENFORCING"

          parameters {
            name     = "token"
            required = true
          }
        }
      }
    }

    # Health needs no token: it answers only the name and version.
    routes {
      path    = "/health"
      methods = ["GET"]

      backend {
        type                       = "HTTP_BACKEND"
        url                        = format("http://%s:8000/health", var.sidecar_private_ip)
        connect_timeout_in_seconds = 10
        read_timeout_in_seconds    = 10
        send_timeout_in_seconds    = 10
      }
    }
  }
}
