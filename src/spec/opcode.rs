//! Command opcodes (NVMe-Base Figure 28 for admin, NVM-CS Figure 17 for I/O).

pub mod admin {
    pub const DELETE_IO_SQ: u8 = 0x00;
    pub const CREATE_IO_SQ: u8 = 0x01;
    pub const GET_LOG_PAGE: u8 = 0x02;
    pub const DELETE_IO_CQ: u8 = 0x04;
    pub const CREATE_IO_CQ: u8 = 0x05;
    pub const IDENTIFY: u8 = 0x06;
    pub const ABORT: u8 = 0x08;
    pub const SET_FEATURES: u8 = 0x09;
    pub const GET_FEATURES: u8 = 0x0a;
    pub const ASYNC_EVENT_REQUEST: u8 = 0x0c;
    pub const NAMESPACE_MANAGEMENT: u8 = 0x0d;
    pub const NAMESPACE_ATTACHMENT: u8 = 0x15;
    pub const KEEP_ALIVE: u8 = 0x18;
    pub const DOORBELL_BUFFER_CONFIG: u8 = 0x7c;
    pub const FORMAT_NVM: u8 = 0x80;

    pub fn name(op: u8) -> &'static str {
        match op {
            DELETE_IO_SQ => "delete-io-sq",
            CREATE_IO_SQ => "create-io-sq",
            GET_LOG_PAGE => "get-log-page",
            DELETE_IO_CQ => "delete-io-cq",
            CREATE_IO_CQ => "create-io-cq",
            IDENTIFY => "identify",
            ABORT => "abort",
            SET_FEATURES => "set-features",
            GET_FEATURES => "get-features",
            ASYNC_EVENT_REQUEST => "async-event-request",
            NAMESPACE_MANAGEMENT => "namespace-management",
            NAMESPACE_ATTACHMENT => "namespace-attachment",
            KEEP_ALIVE => "keep-alive",
            DOORBELL_BUFFER_CONFIG => "doorbell-buffer-config",
            FORMAT_NVM => "format-nvm",
            _ => "admin-unknown",
        }
    }
}

pub mod nvm {
    pub const FLUSH: u8 = 0x00;
    pub const WRITE: u8 = 0x01;
    pub const READ: u8 = 0x02;
    pub const WRITE_UNCORRECTABLE: u8 = 0x04;
    pub const COMPARE: u8 = 0x05;
    pub const WRITE_ZEROES: u8 = 0x08;
    pub const DATASET_MANAGEMENT: u8 = 0x09;
    pub const VERIFY: u8 = 0x0c;
    pub const COPY: u8 = 0x19;

    pub fn name(op: u8) -> &'static str {
        match op {
            FLUSH => "flush",
            WRITE => "write",
            READ => "read",
            WRITE_UNCORRECTABLE => "write-uncorrectable",
            COMPARE => "compare",
            WRITE_ZEROES => "write-zeroes",
            DATASET_MANAGEMENT => "dsm",
            VERIFY => "verify",
            COPY => "copy",
            _ => "io-unknown",
        }
    }
}
