//! Transports that expose the controller to a VMM.
pub mod vfio_user;
