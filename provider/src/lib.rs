pub mod esb;
