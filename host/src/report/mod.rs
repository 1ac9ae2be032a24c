pub mod junit;
pub mod model;
pub mod sarif;
pub mod summary;

pub use junit::junit_xml;
pub use model::*;
pub use sarif::sarif_log;
pub use summary::summary_json;
