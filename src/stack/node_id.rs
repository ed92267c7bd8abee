//! NodeId: a data node's name as the cluster map holds it — one shared,
//! immutable string per name instead of a `String` per mention.
//!
//! **Why.** A map chunk copied by a command copies 64 partition
//! configurations, and each names its replicas, its primary and the epochs
//! at which nodes left the in-sync set or led it: a `String` each was an
//! allocation and a copy per name, and a free per name when the older
//! version went. A `NodeId` copies as a reference count, and two ids cut
//! from the same name compare by address before they compare bytes.
//!
//! **Invariant.** A `NodeId` is its name and nothing else: it compares,
//! orders, hashes, prints and serializes exactly as the `str` it holds
//! (serde sees a string, so traces, encodings and tags are those of a
//! `String`). It cannot be changed in place; no process can alter what
//! another holds.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::ops::Deref;
use std::rc::Rc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A node's name, shared.
#[derive(Clone, Default)]
pub struct NodeId(Rc<str>);

impl NodeId {
    /// The name.
    #[inline]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True when both are the very same shared name (not merely equal).
    #[inline]
    pub fn same(&self, other: &NodeId) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

impl Deref for NodeId {
    type Target = str;
    #[inline]
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for NodeId {
    #[inline]
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for NodeId {
    #[inline]
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<&str> for NodeId {
    fn from(s: &str) -> NodeId {
        NodeId(Rc::from(s))
    }
}

impl From<String> for NodeId {
    fn from(s: String) -> NodeId {
        NodeId(Rc::from(s))
    }
}

impl From<&String> for NodeId {
    fn from(s: &String) -> NodeId {
        NodeId(Rc::from(s.as_str()))
    }
}

impl From<Rc<str>> for NodeId {
    fn from(s: Rc<str>) -> NodeId {
        NodeId(s)
    }
}

impl From<&Rc<str>> for NodeId {
    fn from(s: &Rc<str>) -> NodeId {
        NodeId(Rc::clone(s))
    }
}

impl From<NodeId> for String {
    fn from(id: NodeId) -> String {
        id.0.to_string()
    }
}

impl PartialEq for NodeId {
    #[inline]
    fn eq(&self, other: &NodeId) -> bool {
        self.same(other) || *self.0 == *other.0
    }
}

impl Eq for NodeId {}

impl PartialEq<str> for NodeId {
    #[inline]
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other
    }
}

impl PartialEq<&str> for NodeId {
    #[inline]
    fn eq(&self, other: &&str) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<String> for NodeId {
    #[inline]
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<NodeId> for str {
    #[inline]
    fn eq(&self, other: &NodeId) -> bool {
        *self == *other.0
    }
}

impl PartialEq<NodeId> for &str {
    #[inline]
    fn eq(&self, other: &NodeId) -> bool {
        **self == *other.0
    }
}

impl PartialEq<NodeId> for String {
    #[inline]
    fn eq(&self, other: &NodeId) -> bool {
        **self == *other.0
    }
}

impl PartialOrd for NodeId {
    #[inline]
    fn partial_cmp(&self, other: &NodeId) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for NodeId {
    #[inline]
    fn cmp(&self, other: &NodeId) -> Ordering {
        if self.same(other) {
            Ordering::Equal
        } else {
            self.0.cmp(&other.0)
        }
    }
}

impl std::hash::Hash for NodeId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state)
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

impl Serialize for NodeId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for NodeId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<NodeId, D::Error> {
        String::deserialize(d).map(NodeId::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_id_is_its_name_to_serde_and_comparisons() {
        let a = NodeId::from("n12");
        let b = NodeId::from(String::from("n12"));
        assert_eq!(a, b);
        assert!(!a.same(&b));
        assert!(a.same(&a.clone()));
        assert_eq!(a, "n12");
        assert_eq!(a.cmp(&NodeId::from("n2")), "n12".cmp("n2"));
        assert_eq!(format!("{a} {a:?}"), format!("{} {:?}", "n12", "n12"));
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            serde_json::to_string("n12").unwrap()
        );
        let back: NodeId = serde_json::from_str("\"n12\"").unwrap();
        assert_eq!(back, a);
        use sha2::{Digest, Sha256};
        let mut got = Sha256::new();
        crate::stack::encoding::encode_into(&mut got, &a).unwrap();
        let mut want = Sha256::new();
        crate::stack::encoding::encode_into(&mut want, "n12").unwrap();
        assert_eq!(
            got.finalize(),
            want.finalize(),
            "the canonical encoding of the string"
        );
    }
}
