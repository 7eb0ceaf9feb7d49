//! HCL for `loadbalancer`: a flexible `oci_load_balancer_load_balancer` in its subnet and, when it
//! is connected to compute instances, a backend set with one backend per instance's private IP.

use super::{Ctx, ExportError, Rendered};
use crate::hcl::{Block, Expr};
use crate::model::Component;

pub fn render(ctx: &Ctx, c: &Component, r: &mut Rendered) -> Result<(), ExportError> {
    let label = ctx.label(c).to_string();
    let subnet = ctx.require(c, "subnet")?;
    let public = ctx.cfg_bool(subnet, "public")?;
    let min = r.var(
        format!("{label}_min_bandwidth_mbps"),
        "number",
        format!("Minimum bandwidth of load balancer {}", c.display_name),
        ctx.cfg_num(c, "min_bandwidth_mbps")?,
    );
    let max = r.var(
        format!("{label}_max_bandwidth_mbps"),
        "number",
        format!("Maximum bandwidth of load balancer {}", c.display_name),
        ctx.cfg_num(c, "max_bandwidth_mbps")?,
    );
    r.resources.push(
        ctx.resource("oci_load_balancer_load_balancer", &label)
            .attr("display_name", Expr::str(&c.display_name))
            .attr("shape", Expr::str("flexible"))
            .attr("subnet_ids", Expr::List(vec![ctx.attr(subnet, "id")]))
            .attr("is_private", !public)
            .block(
                Block::new("shape_details", &[])
                    .attr("minimum_bandwidth_in_mbps", min)
                    .attr("maximum_bandwidth_in_mbps", max),
            ),
    );
    let backends = ctx.connected(c, "compute");
    if !backends.is_empty() {
        let port = ctx.cfg_num(c, "backend_port")?;
        let lb_id = Expr::raw(format!("oci_load_balancer_load_balancer.{label}.id"));
        let set = format!("{label}_backends");
        r.resources.push(
            Block::new("resource", &["oci_load_balancer_backend_set", &set])
                .attr("load_balancer_id", lb_id.clone())
                .attr("name", Expr::str(&set))
                .attr("policy", Expr::str("ROUND_ROBIN"))
                .block(
                    Block::new("health_checker", &[])
                        .attr("protocol", Expr::str("TCP"))
                        .attr("port", port.clone()),
                ),
        );
        for vm in backends {
            let vm_label = ctx.label(vm);
            r.resources.push(
                Block::new(
                    "resource",
                    &["oci_load_balancer_backend", &format!("{label}_{vm_label}")],
                )
                .attr("load_balancer_id", lb_id.clone())
                .attr(
                    "backendset_name",
                    Expr::raw(format!("oci_load_balancer_backend_set.{set}.name")),
                )
                .attr("ip_address", ctx.attr(vm, "private_ip"))
                .attr("port", port.clone()),
            );
        }
    }
    r.output(
        format!("{label}_id"),
        format!("OCID of load balancer {}", c.display_name),
        format!("oci_load_balancer_load_balancer.{label}.id"),
    );
    Ok(())
}
