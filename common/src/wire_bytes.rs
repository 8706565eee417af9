//! Serde helpers that encode byte strings as one length-prefixed run instead of a
//! sequence of `u8`s serialized one call at a time (serde's default for `Vec<u8>`),
//! which is what makes a 1 MiB value or a snapshot cheap to encode and decode. Use with
//! `#[serde(with = ...)]`.

/// `Vec<u8>` as bytes.
pub use serde_bytes as bytes;

/// `Vec<Vec<u8>>` as a sequence of byte strings.
pub mod byte_list {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use serde_bytes::{ByteBuf, Bytes};

    /// Serializes each element as bytes.
    ///
    /// # Errors
    /// The serializer's.
    pub fn serialize<S: Serializer>(list: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
        let wrapped: Vec<&Bytes> = list.iter().map(|v| Bytes::new(v)).collect();
        wrapped.serialize(s)
    }

    /// Deserializes a sequence of byte strings.
    ///
    /// # Errors
    /// The deserializer's.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
        Ok(Vec::<ByteBuf>::deserialize(d)?
            .into_iter()
            .map(ByteBuf::into_vec)
            .collect())
    }
}

/// `Vec<(Vec<u8>, Vec<u8>)>` as a sequence of pairs of byte strings.
pub mod byte_pairs {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use serde_bytes::{ByteBuf, Bytes};

    /// Pairs of byte strings (keys and values).
    pub type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

    /// Serializes each pair as two byte strings.
    ///
    /// # Errors
    /// The serializer's.
    pub fn serialize<S: Serializer>(pairs: &[(Vec<u8>, Vec<u8>)], s: S) -> Result<S::Ok, S::Error> {
        let wrapped: Vec<(&Bytes, &Bytes)> = pairs
            .iter()
            .map(|(k, v)| (Bytes::new(k), Bytes::new(v)))
            .collect();
        wrapped.serialize(s)
    }

    /// Deserializes a sequence of byte-string pairs.
    ///
    /// # Errors
    /// The deserializer's.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Pairs, D::Error> {
        let pairs = Vec::<(ByteBuf, ByteBuf)>::deserialize(d)?;
        Ok(pairs
            .into_iter()
            .map(|(k, v)| (k.into_vec(), v.into_vec()))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct Sample {
        #[serde(with = "super::bytes")]
        value: Vec<u8>,
        #[serde(with = "super::byte_list")]
        keys: Vec<Vec<u8>>,
        #[serde(with = "super::byte_pairs")]
        pairs: Vec<(Vec<u8>, Vec<u8>)>,
    }

    #[test]
    fn round_trips_and_stays_compact() {
        let sample = Sample {
            value: vec![200; 1000],
            keys: vec![b"a".to_vec(), vec![255; 3]],
            pairs: vec![(b"k".to_vec(), vec![128; 10])],
        };
        let bytes = postcard::to_stdvec(&sample).unwrap();
        assert!(bytes.len() < 1100, "{} bytes", bytes.len());
        assert_eq!(postcard::from_bytes::<Sample>(&bytes).unwrap(), sample);
    }
}
