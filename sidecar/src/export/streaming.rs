//! HCL for `streaming`: an `oci_streaming_stream_pool` and an `oci_streaming_stream` in it.

use super::{Ctx, ExportError, Rendered};
use crate::hcl::Expr;
use crate::model::Component;

pub fn render(ctx: &Ctx, c: &Component, r: &mut Rendered) -> Result<(), ExportError> {
    let label = ctx.label(c).to_string();
    let partitions = r.var(
        format!("{label}_partitions"),
        "number",
        format!("Partitions of stream {}", c.display_name),
        ctx.cfg_num(c, "partitions")?,
    );
    let retention = r.var(
        format!("{label}_retention_in_hours"),
        "number",
        format!("Retention of stream {}", c.display_name),
        ctx.cfg_num(c, "retention_in_hours")?,
    );
    let pool = format!("{label}_pool");
    r.resources.push(
        ctx.resource("oci_streaming_stream_pool", &pool)
            .attr("name", Expr::str(format!("{}-pool", c.display_name))),
    );
    r.resources.push(
        crate::hcl::Block::new("resource", &["oci_streaming_stream", &label])
            .attr("name", Expr::str(&c.display_name))
            .attr(
                "stream_pool_id",
                Expr::raw(format!("oci_streaming_stream_pool.{pool}.id")),
            )
            .attr("partitions", partitions)
            .attr("retention_in_hours", retention),
    );
    r.output(
        format!("{label}_id"),
        format!("OCID of stream {}", c.display_name),
        format!("oci_streaming_stream.{label}.id"),
    );
    r.output(
        format!("{label}_messages_endpoint"),
        format!("Messages endpoint of stream {}", c.display_name),
        format!("oci_streaming_stream.{label}.messages_endpoint"),
    );
    Ok(())
}
