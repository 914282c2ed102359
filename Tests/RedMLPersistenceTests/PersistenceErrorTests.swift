import RedML
import Testing

/// The seed's error texts, and the codes and texts of the added cases.
@Suite("Persistence errors")
struct PersistenceErrorTests {
    @Test func seedDescriptions() {
        #expect(MLPersistenceError.backend("disk full").description == "ml persistence backend error: disk full")
        #expect(MLPersistenceError.corruption("bad json").description == "ml persistence value corrupted: bad json")
        #expect("\(MLPersistenceError.backend("x"))" == "ml persistence backend error: x")
    }

    @Test func corruptValueNamesTheRecord() {
        let error = MLPersistenceError.corruptValue(namespace: "jobs", key: "j1", reason: "not JSON")
        #expect(error == .corruption("jobs/j1: not JSON"))
        #expect(error.description == "ml persistence value corrupted: jobs/j1: not JSON")
    }

    @Test func codes() {
        let cases: [(MLPersistenceError, String)] = [
            (.backend("x"), "backend"),
            (.corruption("x"), "corruption"),
            (.conflict(namespace: "n", key: "k", expected: .absent, found: nil), "conflict"),
            (.blobNotFound(sha256: "s"), "blob_not_found"),
            (.blobVerificationFailed(sha256: "s", actual: "a", size: 1), "blob_verification_failed"),
            (.schemaTooNew(store: "s", found: 2, supported: 1), "schema_too_new"),
            (.invalidArgument("x"), "invalid_argument"),
        ]
        for (error, code) in cases {
            #expect(error.code == code)
        }
    }

    @Test func conflictDescriptions() {
        let absent = MLPersistenceError.conflict(
            namespace: "models", key: "spam", expected: .revision(MLRevision(rawValue: 4)), found: nil)
        #expect(
            absent.description == "ml persistence conflict: models/spam was expected to be at revision 4 but is absent")
        let present = MLPersistenceError.conflict(
            namespace: "jobs", key: "j", expected: .absent, found: MLRevision(rawValue: 9))
        #expect(present.description == "ml persistence conflict: jobs/j was expected to be absent but is at revision 9")
    }
}
