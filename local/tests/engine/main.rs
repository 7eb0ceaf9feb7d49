//! The engine driven in-process through its router with signed requests (and, where a socket
//! matters, through `serve` on a loopback port).

#![allow(dead_code)]

mod agent;
mod attacks;
mod auth;
mod custom_providers;
mod faults;
mod object_storage;
mod resource_manager;
mod restart;
mod util;
