//! Where a shard lives: in the work tree (committed or staged content) or in the local overlay
//! (content only in the working tree), and the name the index and messages give it.

use super::shard::ShardId;

/// Where a shard lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Place {
    /// `.rustassistant/cache/`: committed or staged content.
    Tree,
    /// `<git dir>/rustassistant/overlay/`: content only in the working tree.
    Overlay,
}

impl Place {
    /// Both places, in lookup order.
    pub const ALL: [Place; 2] = [Place::Tree, Place::Overlay];

    fn prefix(self) -> &'static str {
        match self {
            Place::Tree => "cache/",
            Place::Overlay => "overlay/",
        }
    }
}

/// One shard in one place.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Location {
    /// The place.
    pub place: Place,
    /// The shard.
    pub shard: ShardId,
}

impl Location {
    /// `shard` in each place, in lookup order (the shards, then the overlay).
    pub fn each(shard: &ShardId) -> [Location; 2] {
        Place::ALL.map(|place| Location {
            place,
            shard: shard.clone(),
        })
    }

    /// `cache/<type>/<b0b1>.jsonl` or `overlay/<type>/<b0b1>.jsonl`: the name the index and
    /// messages use.
    pub fn rel(&self) -> String {
        Self::rel_of(self.place, &self.shard)
    }

    /// [`Location::rel`] of `shard` in `place`, without making the location.
    pub fn rel_of(place: Place, shard: &ShardId) -> String {
        let mut rel = String::with_capacity(place.prefix().len() + shard.rel_len());
        rel.push_str(place.prefix());
        shard.push_rel(&mut rel);
        rel
    }

    /// Parse [`Location::rel`] back.
    pub fn from_rel(rel: &str) -> Option<Location> {
        for place in Place::ALL {
            if let Some(rest) = rel.strip_prefix(place.prefix()) {
                return ShardId::from_rel(rest).map(|shard| Location { place, shard });
            }
        }
        None
    }
}
