//! An in-process mock ingest server for development and tests (work in progress).
