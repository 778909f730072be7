//! The generator behind the message table in `msg/mod.rs`.
//!
//! One table lists every message once with its stable type code; this macro
//! derives from it everything that must agree with it: the `MessageType`
//! enum, the owned `Request`/`Reply` enums, the zero-copy `RequestRef`/
//! `ReplyRef` views, and the per-message encode and decode dispatch. Adding a
//! message is one line in the table (plus its struct and `Validate` impl).

macro_rules! messages {
    (
        requests { $( $(#[$rq_doc:meta])* $rq:ident($rq_ty:ty) = $rq_code:literal, )* }
        replies { $( $(#[$rp_doc:meta])* $rp:ident($rp_ty:ty) = $rp_code:literal, )* }
    ) => {
        /// The stable code of each message, carried in the frame header.
        /// Requests have the high bit clear; replies have it set.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u16)]
        pub enum MessageType {
            $( $(#[$rq_doc])* $rq = $rq_code, )*
            $( $(#[$rp_doc])* $rp = $rp_code, )*
        }

        impl MessageType {
            /// Every message type, requests first, in table order.
            pub const ALL: &'static [MessageType] =
                &[$(MessageType::$rq,)* $(MessageType::$rp,)*];

            /// The type for a code, or `None` if this build does not know it.
            pub fn from_u16(code: u16) -> Option<MessageType> {
                match code {
                    $( $rq_code => Some(MessageType::$rq), )*
                    $( $rp_code => Some(MessageType::$rp), )*
                    _ => None,
                }
            }
        }

        /// Any request, owned.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Request {
            $( $rq($rq_ty), )*
        }

        /// Any reply, owned.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Reply {
            $( $rp($rp_ty), )*
        }

        /// A validated request read in place from a frame body.
        #[derive(Debug, Clone, Copy)]
        pub enum RequestRef<'a> {
            $( $rq(&'a rkyv::Archived<$rq_ty>), )*
        }

        /// A validated reply read in place from a frame body.
        #[derive(Debug, Clone, Copy)]
        pub enum ReplyRef<'a> {
            $( $rp(&'a rkyv::Archived<$rp_ty>), )*
        }

        $(
            impl From<$rq_ty> for Request {
                fn from(message: $rq_ty) -> Self {
                    Request::$rq(message)
                }
            }
            impl SealedEncode for $rq_ty {}
            impl Encode for $rq_ty {
                fn message_type(&self) -> MessageType {
                    MessageType::$rq
                }
                fn write_body<B: FrameBuf>(&self, out: &mut B) -> Result<(), rkyv::rancor::Error> {
                    write_archive(self, out)
                }
            }
        )*

        $(
            impl From<$rp_ty> for Reply {
                fn from(message: $rp_ty) -> Self {
                    Reply::$rp(message)
                }
            }
            impl SealedEncode for $rp_ty {}
            impl Encode for $rp_ty {
                fn message_type(&self) -> MessageType {
                    MessageType::$rp
                }
                fn write_body<B: FrameBuf>(&self, out: &mut B) -> Result<(), rkyv::rancor::Error> {
                    write_archive(self, out)
                }
            }
        )*

        impl SealedEncode for Request {}
        impl Encode for Request {
            fn message_type(&self) -> MessageType {
                match self {
                    $( Request::$rq(_) => MessageType::$rq, )*
                }
            }
            fn write_body<B: FrameBuf>(&self, out: &mut B) -> Result<(), rkyv::rancor::Error> {
                match self {
                    $( Request::$rq(m) => m.write_body(out), )*
                }
            }
        }

        impl SealedEncode for Reply {}
        impl Encode for Reply {
            fn message_type(&self) -> MessageType {
                match self {
                    $( Reply::$rp(_) => MessageType::$rp, )*
                }
            }
            fn write_body<B: FrameBuf>(&self, out: &mut B) -> Result<(), rkyv::rancor::Error> {
                match self {
                    $( Reply::$rp(m) => m.write_body(out), )*
                }
            }
        }

        impl<'a> RequestRef<'a> {
            /// Validates `body` as the request `msg_type` and views it in place.
            pub fn decode(msg_type: MessageType, body: &'a [u8]) -> Result<Self, DecodeError> {
                match msg_type {
                    $( MessageType::$rq => access::<$rq_ty>(msg_type, body).map(RequestRef::$rq), )*
                    _ => Err(DecodeError::UnexpectedMessage { msg_type, expected: "request" }),
                }
            }

            /// The message's type.
            pub fn message_type(&self) -> MessageType {
                match self {
                    $( RequestRef::$rq(_) => MessageType::$rq, )*
                }
            }

            /// Copies the request out of the buffer.
            pub fn to_request(&self) -> Result<Request, DecodeError> {
                let msg_type = self.message_type();
                match self {
                    $( RequestRef::$rq(a) => to_owned::<$rq_ty>(msg_type, a).map(Request::$rq), )*
                }
            }
        }

        impl<'a> ReplyRef<'a> {
            /// Validates `body` as the reply `msg_type` and views it in place.
            pub fn decode(msg_type: MessageType, body: &'a [u8]) -> Result<Self, DecodeError> {
                match msg_type {
                    $( MessageType::$rp => access::<$rp_ty>(msg_type, body).map(ReplyRef::$rp), )*
                    _ => Err(DecodeError::UnexpectedMessage { msg_type, expected: "reply" }),
                }
            }

            /// The message's type.
            pub fn message_type(&self) -> MessageType {
                match self {
                    $( ReplyRef::$rp(_) => MessageType::$rp, )*
                }
            }

            /// Copies the reply out of the buffer.
            pub fn to_reply(&self) -> Result<Reply, DecodeError> {
                let msg_type = self.message_type();
                match self {
                    $( ReplyRef::$rp(a) => to_owned::<$rp_ty>(msg_type, a).map(Reply::$rp), )*
                }
            }
        }
    };
}
