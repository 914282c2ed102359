import Foundation
import RedML
import RedMLHTTP
import RedMLTestFixtures
import RedMLTesting
import Testing

/// Streamed weights: upload as the body, download with the SHA-256, on every backend.
@Suite("Weights routes")
struct WeightsRouteTests {
    static func sha256(_ bytes: [UInt8]) -> String {
        MLBlobHasher.sha256(of: Data(bytes))
    }

    @Test(arguments: Backends.allFixtures())
    func streamedUploadAndDownloadRoundTrip(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        // Several 32 KiB request chunks and more than one store chunk on SQLite.
        let weights = patternBytes(3 * 1024 * 1024 + 123)
        try await h.run { client in
            let registration: MLJSONValue = ["metrics": ["auc": 0.9], "created_by": "trainer", "activate": false]
            let created = try await client.send(
                .post, "/v1/models/big/versions", bytes: weights,
                headers: [.init("RedML-Registration")!: registration.jsonText])
            #expect(created.status == .created)
            #expect(created.json.int("version") == 1)
            #expect(created.json.string("weights_sha256") == Self.sha256(weights))
            #expect(created.json.int("weights_size") == Int64(weights.count))
            #expect(created.json["metrics"] == ["auc": 0.9])

            let download = try await client.get("/v1/models/big/versions/1/weights")
            #expect(download.status == .ok)
            #expect(download.headers[.contentType] == "application/octet-stream")
            #expect(download.headers[.contentLength] == String(weights.count))
            #expect(download.headers[.init("RedML-SHA256")!] == Self.sha256(weights))
            #expect(download.headers[.eTag] == "\"\(Self.sha256(weights))\"")
            #expect(download.bytes.count == weights.count)
            #expect(Self.sha256(download.bytes) == Self.sha256(weights))

            let cached = try await client.send(.get, "/v1/models/big/versions/1/weights",
                                               headers: [.ifNoneMatch: "\"\(Self.sha256(weights))\""])
            #expect(cached.status == .notModified)
            #expect(cached.bytes.isEmpty)
            let etag = "\"\(Self.sha256(weights))\""
            for header in ["*", "W/\(etag)", "\"other\", \(etag)"] {
                let reply = try await client.send(.get, "/v1/models/big/versions/1/weights", headers: [.ifNoneMatch: header])
                #expect(reply.status == .notModified, "\(header)")
            }
            let other = try await client.send(.get, "/v1/models/big/versions/1/weights", headers: [.ifNoneMatch: "\"other\""])
            #expect(other.status == .ok)
        }
        #expect(try await h.registry.activeVersion(of: "big") == nil)
        #expect(try await h.registry.weightsData(of: "big", version: 1) == Data(weights))
    }

    /// The client's digest of the weights (RedML-SHA256, or weights_sha256 in
    /// JSON) is checked against what arrived; a mismatch registers nothing.
    @Test(arguments: Backends.allFixtures())
    func uploadsAreCheckedAgainstTheClientsDigest(_ fixture: MLStoreFixture) async throws {
        let h = try await Harness(fixture)
        let weights = patternBytes(200_000)
        let digest = Self.sha256(weights)
        let wrong = Self.sha256(Array(weights.dropLast()))
        try await h.run { client in
            for path in ["/v1/models/m/versions", "/v1/models/m/versions/1/weights"] {
                let refused = try await client.send(path.hasSuffix("weights") ? .put : .post, path, bytes: weights,
                                                    headers: [.init("RedML-SHA256")!: wrong])
                #expect(refused.status == .badRequest, "\(path)")
                #expect(refused.errorMessage.contains(digest) && refused.errorMessage.contains(wrong), "\(refused.errorMessage)")
            }
            let json = try await client.send(.post, "/v1/models/m/versions", json: [
                "weights_base64": .string(Data(weights).base64EncodedString()), "weights_sha256": .string(wrong),
            ])
            #expect(json.status == .badRequest)
            // The header belongs to the streamed form: with a JSON body it is refused, not ignored
            // (ignored, these weights would have been registered unchecked).
            let headerWithJSON = try await client.send(.post, "/v1/models/m/versions", json: [
                "weights_base64": .string(Data(weights).base64EncodedString()),
            ], headers: [.init("RedML-SHA256")!: wrong])
            #expect(headerWithJSON.status == .badRequest)
            #expect(headerWithJSON.errorMessage.contains("RedML-SHA256"), "\(headerWithJSON.errorMessage)")
            #expect(try await h.registry.contains(model: "m") == false, "a refused upload registered nothing")
            // Upper-case hex is the same digest.
            let accepted = try await client.send(.post, "/v1/models/m/versions", bytes: weights,
                                                 headers: [.init("RedML-SHA256")!: digest.uppercased()])
            #expect(accepted.status == .created)
            #expect(accepted.json.string("weights_sha256") == digest)
        }
        #expect(try await h.registry.versions(of: "m").versions.count == 1)
    }

    /// A parent version that does not exist is refused before the body is
    /// read: the answer is its 404, not the 400 the body's wrong digest would
    /// give once read.
    @Test func aMissingParentVersionIsRefusedBeforeTheUploadIsRead() async throws {
        let h = try await Harness()
        try await h.register("m")
        try await h.run { client in
            let reply = try await client.send(.post, "/v1/models/m/versions", bytes: patternBytes(100_000), headers: [
                .init("RedML-Registration")!: #"{"parent_version": 999}"#,
                .init("RedML-SHA256")!: String(repeating: "0", count: 64),
            ])
            #expect(reply.status == .notFound)
            #expect(reply.errorCode == "unknown_version")
            #expect(reply.errorMessage.contains("parent version 999 of model 'm' does not exist (latest is 1)"))
        }
        #expect(try await h.registry.versions(of: "m").versions.count == 1)
    }

    @Test func putRegistersExactlyTheNamedVersion() async throws {
        let h = try await Harness()
        try await h.run { client in
            let first = try await client.send(.put, "/v1/models/m/versions/1/weights", bytes: [1, 2, 3])
            #expect(first.status == .created)
            #expect(first.json.int("version") == 1)
            // 1 exists and 3 is not next: both conflict and store nothing.
            let again = try await client.send(.put, "/v1/models/m/versions/1/weights", bytes: [4, 5])
            #expect(again.status == .conflict)
            #expect(again.errorCode == "version_conflict")
            let skip = try await client.send(.put, "/v1/models/m/versions/3/weights", bytes: [4, 5])
            #expect(skip.status == .conflict)
            let second = try await client.send(.put, "/v1/models/m/versions/2/weights", bytes: [4, 5])
            #expect(second.status == .created)
        }
        #expect(try await h.registry.model("m").latestVersion == 2)
        #expect(try await h.registry.weightsData(of: "m", version: 2) == Data([4, 5]))
    }

    @Test func uploadsAboveTheLimitAreRefusedAndStoreNothing() async throws {
        let h = try await Harness(configuration: MLHTTPAPI.Configuration(maximumWeightsSize: 100 * 1024))
        try await h.run { client in
            let big = try await client.send(.post, "/v1/models/m/versions", bytes: patternBytes(100 * 1024 + 1))
            #expect(big.status == .contentTooLarge)
            #expect(big.errorCode == "body_too_large")
            let put = try await client.send(.put, "/v1/models/m/versions/1/weights", bytes: patternBytes(200 * 1024))
            #expect(put.status == .contentTooLarge)
            let fits = try await client.send(.post, "/v1/models/m/versions", bytes: patternBytes(100 * 1024))
            #expect(fits.status == .created)
            #expect(fits.json.int("version") == 1)
        }
        #expect(try await h.registry.model("m").latestVersion == 1)
    }

    @Test func registrationHeaderIsCheckedLikeABody() async throws {
        let h = try await Harness()
        try await h.run { client in
            let unknown = try await client.send(.post, "/v1/models/m/versions", bytes: [1],
                                                headers: [.init("RedML-Registration")!: #"{"color":"red"}"#])
            #expect(unknown.status == .badRequest)
            #expect(unknown.errorCode == "unknown_field")
            #expect(unknown.errorMessage.contains("color"))
            let invalid = try await client.send(.post, "/v1/models/m/versions", bytes: [1],
                                                headers: [.init("RedML-Registration")!: "{not json"])
            #expect(invalid.status == .badRequest)
            #expect(invalid.errorCode == "invalid_json")
            let badBase64 = try await client.send(.post, "/v1/models/m/versions", json: ["weights_base64": "%%%"])
            #expect(badBase64.status == .badRequest)
            let missing = try await client.send(.post, "/v1/models/m/versions", json: ["metrics": [:]])
            #expect(missing.status == .badRequest)
            #expect(missing.errorCode == "missing_field")
            let media = try await client.send(.post, "/v1/models/m/versions", text: "x", headers: [.contentType: "text/plain"])
            #expect(media.status == .unsupportedMediaType)
            #expect(media.errorMessage.contains("application/json or application/octet-stream"), "\(media.errorMessage)")
        }
        #expect(try await h.registry.contains(model: "m") == false)
    }

    @Test func corruptOrDeletedWeightsAreReportedNotServed() async throws {
        let h = try await Harness()
        try await h.register("m", activate: false)
        _ = try await h.registry.archive("m", version: 1)
        _ = try await h.registry.deleteWeights("m", version: 1)
        try await h.run { client in
            let gone = try await client.get("/v1/models/m/versions/1/weights")
            #expect(gone.status == .gone)
            #expect(gone.errorCode == "weights_deleted")
            let unknown = try await client.get("/v1/models/m/versions/9/weights")
            #expect(unknown.status == .notFound)
            #expect(unknown.errorCode == "unknown_version")
        }
    }
}
