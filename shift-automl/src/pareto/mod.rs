//! Pareto tools for minimisation: dominance, non-dominated sorting, crowding distance, exact
//! hypervolume in any number of objectives, and the box decomposition of the non-dominated region
//! that expected hypervolume improvement integrates over.

mod boxes;
mod hypervolume;
mod sort;

pub use boxes::{nondominated_boxes, HvBox};
pub use hypervolume::{hypervolume, hypervolume_contributions};
pub use sort::{crowding_distance, dominates, nondominated_front, nondominated_sort};
