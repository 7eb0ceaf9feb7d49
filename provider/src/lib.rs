pub mod cty;
