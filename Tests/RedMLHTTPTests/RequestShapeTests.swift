import Foundation
import Hummingbird
import RedML
import RedMLHTTP
import Testing

/// Requests whose shape is wrong (a body where none is read, empty weights, a
/// header given twice, an unusual method) are refused with a 4xx naming the
/// problem, and change nothing.
@Suite("Request shape")
struct RequestShapeTests {
    @Test func aBodySentToADeleteIsRefusedAndNothingIsRemoved() async throws {
        let h = try await Harness()
        try await h.register("spam")
        _ = try await h.registry.setAlias("prod", of: "spam", to: 1)
        try await h.run { client in
            // A compare-and-swap written as a JSON body: ignoring it would remove the alias unconditionally.
            let alias = try await client.send(.delete, "/v1/models/spam/aliases/prod", json: ["expected": 2])
            #expect(alias.status == .badRequest)
            #expect(alias.errorCode == "unexpected_body")
            #expect(alias.errorMessage.contains("DELETE /v1/models/{name}/aliases/{alias} takes no request body"),
                    "\(alias.errorMessage)")
            #expect(alias.errorMessage.contains("?expected=N"), "\(alias.errorMessage)")
            let active = try await client.send(.delete, "/v1/models/spam/active", text: "garbage",
                                               headers: [.contentType: "text/plain"])
            #expect(active.status == .badRequest)
            #expect(active.errorCode == "unexpected_body")
            let get = try await client.send(.get, "/v1/models/spam", json: ["x": 1])
            #expect(get.errorCode == "unexpected_body")
            // Content-Length: 0 is no body.
            let declaredEmpty = try await client.send(.get, "/v1/models/spam", headers: [.contentLength: "0"])
            #expect(declaredEmpty.status == .ok, "\(declaredEmpty.text)")
            let head = try await client.send(.head, "/v1/models/spam", json: ["x": 1])
            #expect(head.status == .badRequest)
            // The query form still works.
            let stale = try await client.send(.delete, "/v1/models/spam/aliases/prod?expected=2")
            #expect(stale.status == .conflict)
        }
        #expect(try await h.registry.version(of: "spam", alias: "prod")?.version == 1, "the alias is still there")
        #expect(try await h.registry.model("spam").activeVersion == 1, "the model is still active")
    }

    /// Over a real socket: a chunked body is read, and refused only if it holds a byte.
    @Test func aChunkedBodyIsRefusedOnlyWhenItHoldsBytes() async throws {
        let h = try await Harness()
        try await h.register("spam")
        _ = try await h.registry.setAlias("prod", of: "spam", to: 1)
        _ = try await EventStreamTests.serve(h) { port in
            let empty = try LiveConnection(port: port)
            try empty.send("GET /v1/models/spam HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
            let emptyReply = await empty.read { $0.contains("\"latest_version\"") }
            #expect(emptyReply.text.hasPrefix("HTTP/1.1 200"), "\(emptyReply.text)")
            let full = try LiveConnection(port: port)
            try full.send("DELETE /v1/models/spam/aliases/prod HTTP/1.1\r\nHost: localhost\r\n"
                + "Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nE\r\n{\"expected\": 2}\r\n0\r\n\r\n")
            let fullReply = await full.read { $0.contains("unexpected_body") }
            #expect(fullReply.text.hasPrefix("HTTP/1.1 400"), "\(fullReply.text)")
        }
        #expect(try await h.registry.version(of: "spam", alias: "prod")?.version == 1, "the alias is still there")
    }

    @Test func emptyWeightsAreRefusedAndRegisterNothing() async throws {
        let h = try await Harness()
        try await h.register("spam")
        try await h.run { client in
            let streamed = try await client.send(
                .post, "/v1/models/spam/versions", headers: [.contentType: "application/octet-stream"])
            #expect(streamed.status == .badRequest)
            #expect(streamed.errorCode == "empty_weights")
            #expect(streamed.errorMessage.contains("the weights upload is empty"), "\(streamed.errorMessage)")
            let put = try await client.send(
                .put, "/v1/models/spam/versions/2/weights", bytes: [], headers: [.contentType: "application/octet-stream"])
            #expect(put.errorCode == "empty_weights")
            let base64 = try await client.send(.post, "/v1/models/spam/versions", json: ["weights_base64": ""])
            #expect(base64.errorCode == "empty_weights")
            #expect(base64.errorMessage.contains("weights_base64"), "\(base64.errorMessage)")
        }
        let model = try await h.registry.model("spam")
        #expect(model.latestVersion == 1, "nothing was registered")
        #expect(model.activeVersion == 1, "the serving version did not change")
        #expect(try await h.store.removeAbandonedBlobUploads(startedBefore: .distantFuture) == 0, "no upload was left behind")
    }

    @Test func base64WeightsMayBeWrappedAndBadOnesAreNamed() async throws {
        let h = try await Harness()
        let weights = Data((0..<100).map { UInt8($0) })
        // As `base64` writes it: lines of 76 characters.
        let wrapped = weights.base64EncodedString(options: [.lineLength76Characters, .endLineWithLineFeed])
        #expect(wrapped.contains("\n"))
        try await h.run { client in
            let ok = try await client.send(.post, "/v1/models/spam/versions", json: ["weights_base64": .string(wrapped)])
            #expect(ok.status == .created, "\(ok.text)")
            let urlSafe = try await client.send(.post, "/v1/models/spam/versions", json: ["weights_base64": "ab-_"])
            #expect(urlSafe.errorCode == "invalid_field")
            #expect(urlSafe.errorMessage.contains("character 3 is '-'"), "\(urlSafe.errorMessage)")
            let short = try await client.send(.post, "/v1/models/spam/versions", json: ["weights_base64": "abcde"])
            #expect(short.errorMessage.contains("groups of 4"), "\(short.errorMessage)")
            let padding = try await client.send(.post, "/v1/models/spam/versions", json: ["weights_base64": "a=bc"])
            #expect(padding.errorMessage.contains("'=' only pads the end"), "\(padding.errorMessage)")
            let digest = try await client.send(
                .post, "/v1/models/spam/versions", json: ["weights_base64": "AAAA", "weights_sha256": "00"])
            #expect(digest.errorCode == "invalid_field")
            #expect(digest.errorMessage.contains("weights_sha256"), "\(digest.errorMessage)")
        }
        var stored = Data()
        for try await chunk in try await h.registry.weights(of: "spam", version: 1) { stored.append(chunk) }
        #expect(stored == weights, "the wrapped base64 decoded to the weights")
        #expect(try await h.registry.model("spam").latestVersion == 1)
    }

    @Test func redMLHeadersGivenTwiceAreRefused() async throws {
        let h = try await Harness()
        try await h.register("spam")
        try await h.register("spam")
        try await h.run { client in
            var twice = HTTPFields()
            twice[values: .init("RedML-Actor")!] = ["alice", "bob"]
            twice[.contentType] = "application/json"
            let reply = try await client.send(.put, "/v1/models/spam/active", json: ["version": 1], headers: twice)
            #expect(reply.status == .badRequest)
            #expect(reply.errorMessage == "header 'RedML-Actor': given more than once", "\(reply.errorMessage)")
            var digests = HTTPFields()
            digests[values: .init("RedML-SHA256")!] = [String(repeating: "a", count: 64), String(repeating: "b", count: 64)]
            digests[.contentType] = "application/octet-stream"
            let upload = try await client.send(.post, "/v1/models/spam/versions", bytes: [1, 2, 3], headers: digests)
            #expect(upload.errorMessage == "header 'RedML-SHA256': given more than once", "\(upload.errorMessage)")
        }
        let model = try await h.registry.model("spam")
        #expect(model.activeVersion == 2, "nothing was activated")
        #expect(model.latestVersion == 2, "nothing was registered")
    }

    @Test func queryParameterNamesArePercentDecodedAndEmptyPairsSkipped() async throws {
        let h = try await Harness()
        try await h.register("a")
        try await h.register("b")
        try await h.run { client in
            // `%6cimit` is `limit`, written as some clients escape it; a trailing or doubled `&` is no parameter.
            let encoded = try await client.get("/v1/models?%6cimit=1&&")
            #expect(encoded.status == .ok, "\(encoded.text)")
            guard case .array(let models)? = encoded.json["models"] else {
                Issue.record("no models in \(encoded.text)")
                return
            }
            #expect(models.count == 1, "the decoded limit applied: \(encoded.text)")
            let unknown = try await client.get("/v1/models?%6cimmit=1")
            #expect(unknown.errorCode == "unknown_parameter")
            #expect(unknown.errorMessage.contains("'limmit'"), "the decoded name is shown: \(unknown.errorMessage)")
            let broken = try await client.get("/v1/models?%ZZ=1")
            #expect(broken.status == .badRequest)
            #expect(broken.errorMessage.contains("not valid percent-encoded"), "\(broken.errorMessage)")
        }
    }

    @Test func traceOnAKnownPathIs405WithAllowAndOptionsIsLeftToTheApp() async throws {
        let h = try await Harness()
        try await h.run { client in
            let trace = try await client.send(.trace, "/v1/models")
            #expect(trace.status == .methodNotAllowed)
            #expect(trace.errorCode == "method_not_allowed")
            #expect(trace.headers[.allow] == "GET, HEAD", "\(trace.headers)")
            // No route of the API takes OPTIONS, so an embedding app's CORS handling can.
            let options = try await client.send(.options, "/v1/models")
            #expect(options.errorCode == "unknown_route", "\(options.text)")
        }
    }

    @Test func timesAndBadJSONAreNamedPrecisely() async throws {
        let h = try await Harness()
        try await h.register("spam")
        try await h.run { client in
            let lastMillisecond = try await client.send(
                .post, "/v1/jobs", json: ["kind": "train", "target": "spam", "run_at": 253_402_300_799_999])
            #expect(lastMillisecond.status == .created, "the last millisecond of 9999 is in range: \(lastMillisecond.text)")
            #expect(lastMillisecond.json["run_at_ms"] == .int(253_402_300_799_999), "kept, not rounded into 10000")
            let noZone = try await client.send(
                .post, "/v1/jobs", json: ["kind": "train", "target": "spam", "run_at": "2030-01-01T00:00:00"])
            #expect(noZone.errorMessage.contains("has no time zone"), "\(noZone.errorMessage)")
            let before1970 = try await client.send(
                .post, "/v1/jobs", json: ["kind": "train", "target": "spam", "run_at": "1969-12-31T23:59:59Z"])
            #expect(before1970.errorCode == "invalid_field")
            #expect(before1970.errorMessage.contains("run_at"), "\(before1970.errorMessage)")
            let nope = try await client.send(.post, "/v1/models/spam/versions/1/archive", text: "nope")
            #expect(nope.errorMessage.contains("'nope' is not a JSON value"), "\(nope.errorMessage)")
            let surrogate = try await client.send(.patch, "/v1/models/spam", text: #"{"description": "\ud800"}"#)
            #expect(surrogate.errorCode == "invalid_json")
            #expect(surrogate.errorMessage.contains(#"lone UTF-16 surrogate \ud800"#), "\(surrogate.errorMessage)")
            #expect(!surrogate.errorMessage.contains("DecodingError"), "\(surrogate.errorMessage)")
        }
        #expect(try await h.registry.model("spam").description == nil)
    }
}
