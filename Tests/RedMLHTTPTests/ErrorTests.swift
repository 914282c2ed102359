import Foundation
import RedML
import RedMLHTTP
import Testing

/// Every malformed request is a 4xx with a JSON error that names the problem, and changes nothing.
@Suite("Errors")
struct ErrorTests {
    @Test func malformedBodiesAreRefusedWithTheFieldNamed() async throws {
        let h = try await Harness()
        try await h.register("spam")
        try await h.register("spam")
        try await h.run { client in
            let badJSON = try await client.send(.put, "/v1/models/spam/active", text: "{\"version\": ")
            #expect(badJSON.status == .badRequest)
            #expect(badJSON.errorCode == "invalid_json")
            // The message says what and where, not only that the data is not right.
            let misplaced = try await client.send(.put, "/v1/models/spam/active", text: #"{"version": 1,, }"#)
            #expect(misplaced.errorMessage.contains("column"), "\(misplaced.errorMessage)")
            // A key given twice: one of the values would be dropped without a word.
            let activeBefore = try await h.registry.model("spam").activeVersion
            let twice = try await client.send(.put, "/v1/models/spam/active", text: #"{"version": 1, "version": 2}"#)
            #expect(twice.status == .badRequest)
            #expect(twice.errorCode == "invalid_json")
            #expect(twice.errorMessage.contains(#"duplicate key "version""#), "\(twice.errorMessage)")
            #expect(try await h.registry.model("spam").activeVersion == activeBefore, "nothing was activated")
            let beyond = try await client.send(.patch, "/v1/models/spam/versions/1", text: #"{"metrics": {"a": 1e999}}"#)
            #expect(beyond.status == .badRequest)
            #expect(beyond.errorMessage.contains("beyond the range"), "\(beyond.errorMessage)")
            // A whole number past Int64 would be rounded as a double: refused, naming it, and nothing changes.
            let metricsBefore = try await h.registry.version("spam", 1).metrics
            let pastInt64 = try await client.send(
                .patch, "/v1/models/spam/versions/1", text: #"{"metrics": {"seed": 123456789012345678901234567890}}"#)
            #expect(pastInt64.status == .badRequest)
            #expect(pastInt64.errorCode == "invalid_json")
            #expect(pastInt64.errorMessage.contains("the integer 123456789012345678901234567890 is outside the 64-bit range"),
                    "\(pastInt64.errorMessage)")
            #expect(try await h.registry.version("spam", 1).metrics == metricsBefore, "nothing was changed")

            let unknown = try await client.send(.put, "/v1/models/spam/active", json: ["version": 1, "verison": 1])
            #expect(unknown.status == .badRequest)
            #expect(unknown.errorCode == "unknown_field")
            #expect(unknown.errorMessage.contains("verison"))
            let noFields = try await client.send(.post, "/v1/models/spam/versions/1/unarchive", json: ["x": 1])
            #expect(noFields.errorCode == "unknown_field")
            #expect(noFields.errorMessage.contains("this route takes no fields"), "\(noFields.errorMessage)")

            let wrongType = try await client.send(.put, "/v1/models/spam/active", json: ["version": "1"])
            #expect(wrongType.status == .badRequest)
            #expect(wrongType.errorCode == "invalid_field")
            #expect(wrongType.errorMessage.contains("version"))

            let fraction = try await client.send(.put, "/v1/models/spam/active", json: ["version": 1.5])
            #expect(fraction.status == .badRequest)
            let huge = try await client.send(.put, "/v1/models/spam/active", text: #"{"version": 99999999999999999999999}"#)
            #expect(huge.status == .badRequest)
            let overflow = try await client.send(.put, "/v1/models/spam/active", text: #"{"version": 1e400}"#)
            #expect(overflow.status == .badRequest)
            let zero = try await client.send(.put, "/v1/models/spam/active", json: ["version": 0])
            #expect(zero.status == .badRequest)
            let notObject = try await client.send(.put, "/v1/models/spam/active", text: "[1]")
            #expect(notObject.status == .badRequest)
            let empty = try await client.send(.put, "/v1/models/spam/active", text: "")
            #expect(empty.status == .badRequest)

            let badUTF8 = try await client.send(.put, "/v1/models/spam/active", bytes: Array(#"{"version": 1, "x": ""#.utf8) + [0xFF, 0xFE] + Array(#""}"#.utf8),
                                                headers: [.contentType: "application/json"])
            #expect(badUTF8.status == .badRequest)
            #expect(badUTF8.errorCode == "invalid_utf8")

            let badTag = try await client.send(.patch, "/v1/models/spam", json: ["tags": ["k": 1]])
            #expect(badTag.status == .badRequest)
            #expect(badTag.errorMessage.contains("tags.k"))
            let nulInDescription = try await client.send(.patch, "/v1/models/spam", json: ["description": "a\u{0}b"])
            #expect(nulInDescription.status == .badRequest)
            #expect(nulInDescription.errorCode == "invalid_argument")
        }
        let model = try await h.registry.model("spam")
        #expect(model.activeVersion == 2)
        #expect(model.description == nil)
        #expect(model.tags == [:])
        #expect(model.eventCount == 4)  // two registrations, two activations
    }

    @Test func badPathAndQueryParametersAreRefused() async throws {
        let h = try await Harness()
        try await h.register("spam")
        try await h.run { client in
            for path in ["/v1/models/spam/versions/abc", "/v1/models/spam/versions/0", "/v1/models/spam/versions/-1",
                         "/v1/models/spam/versions/4294967296", "/v1/models/spam/versions/+1"]
            {
                let reply = try await client.get(path)
                #expect(reply.status == .badRequest, "\(path)")
                #expect(reply.errorMessage.contains("version"), "\(path)")
            }
            #expect(try await client.get("/v1/jobs/xyz").status == .badRequest)
            #expect(try await client.get("/v1/models/%FF%FE").status == .badRequest)
            #expect(try await client.get("/v1/models/a%2Fb").status == .badRequest)
            #expect(try await client.get("/v1/models?limit=0").status == .badRequest)
            #expect(try await client.get("/v1/models?limit=1001").status == .badRequest)
            #expect(try await client.get("/v1/models?limit=ten").status == .badRequest)
            #expect(try await client.get("/v1/models/spam/versions?order=sideways").status == .badRequest)
            #expect(try await client.get("/v1/models/spam/versions?archived=yes").status == .badRequest)
            #expect(try await client.get("/v1/models/spam/versions?cursor=x").status == .badRequest)
            // No model name holds U+0000; the store would refuse to look one up (a 500 before).
            let nulCursor = try await client.get("/v1/models?cursor=a%00")
            #expect(nulCursor.status == .badRequest)
            #expect(nulCursor.errorCode == "invalid_field")
            #expect(nulCursor.errorMessage.contains("cursor"))
            #expect(try await client.get("/v1/jobs?status=done").status == .badRequest)
            // Filters that could only match nothing, silently.
            for path in ["/v1/models/spam/history?kind=bogus", "/v1/models/spam/history?kind=", "/v1/models/spam/history?kind=registered,",
                         "/v1/models/spam/history?alias=", "/v1/jobs?kind=", "/v1/jobs?queue=",
                         // No tag has an empty key.
                         "/v1/models?tag=", "/v1/models?tag=%3Dprod", "/v1/models/spam/versions?tag=", "/v1/models/spam/versions?tag=%3D"] {
                let reply = try await client.get(path)
                #expect(reply.status == .badRequest, "\(path)")
                #expect(reply.errorCode == "invalid_field", "\(path)")
            }
            #expect(try await client.get("/v1/models/spam/history?kind=registered,activated").status == .ok)
            #expect(try await client.get("/v1/models?tag=env%3D").status == .ok, "an empty value is a value")
            let unknown = try await client.get("/v1/models?colour=red")
            #expect(unknown.status == .badRequest)
            #expect(unknown.errorCode == "unknown_parameter")
            #expect(unknown.errorMessage.contains("colour"))
        }
    }

    @Test func aKnownPathWithAnotherMethodIs405WithAllow() async throws {
        let h = try await Harness()
        try await h.register("spam")
        try await h.run { client in
            let delete = try await client.send(.delete, "/v1/models/spam")
            #expect(delete.status == .methodNotAllowed)
            #expect(delete.errorCode == "method_not_allowed")
            #expect(delete.headers[.allow] == "GET, HEAD, PATCH")
            #expect(delete.errorMessage.contains("DELETE"))
            let post = try await client.send(.post, "/v1/models/spam/active", json: ["version": 1])
            #expect(post.status == .methodNotAllowed)
            #expect(post.headers[.allow] == "DELETE, GET, HEAD, PUT")
            // A path that exists for no method is still a 404.
            #expect(try await client.send(.delete, "/v1/nothing").status == .notFound)
            // The model is untouched.
            #expect(try await client.get("/v1/models/spam").status == .ok)
        }
    }

    @Test func headAnswersAsGetWithoutABody() async throws {
        let h = try await Harness()
        try await h.register("spam", "the weights")
        try await h.run { client in
            let head = try await client.send(.head, "/v1/models/spam/versions/1/weights")
            #expect(head.status == .ok)
            #expect(head.headers[.init("RedML-SHA256")!] == MLBlobHasher.sha256(of: Data("the weights".utf8)))
            #expect(head.bytes.isEmpty)
            #expect(try await client.send(.head, "/v1/models/spam/versions/9/weights").status == .notFound)
            #expect(try await client.send(.head, "/v1/models/spam").status == .ok)
        }
    }

    @Test func unknownThingsAreJSON404s() async throws {
        let h = try await Harness()
        try await h.register("spam")
        try await h.run { client in
            let cases: [(String, String)] = [
                ("/v1/models/nope", "unknown_model"),
                ("/v1/models/spam/versions/7", "unknown_version"),
                ("/v1/models/spam/aliases/nope", "unknown_alias"),
                ("/v1/jobs/" + String(repeating: "0", count: 31) + "1", "unknown_job"),
                ("/v1/nothing/here", "unknown_route"),
            ]
            for (path, code) in cases {
                let reply = try await client.get(path)
                #expect(reply.status == .notFound, "\(path)")
                #expect(reply.errorCode == code, "\(path)")
            }
            let unknownPath = try await client.send(.delete, "/v1/spam")
            #expect(unknownPath.status == .notFound)
            #expect(unknownPath.errorCode == "unknown_route")
        }
    }

    @Test func jsonBodiesAboveTheLimitAre413() async throws {
        let h = try await Harness(configuration: MLHTTPAPI.Configuration(maximumBodySize: 1024))
        try await h.run { client in
            let description = String(repeating: "x", count: 2048)
            let reply = try await client.send(.patch, "/v1/models/spam", json: ["description": .string(description)])
            #expect(reply.status == .contentTooLarge)
            #expect(reply.errorCode == "body_too_large")
            #expect(reply.errorMessage.contains("1024"))
            let job = try await client.send(.post, "/v1/jobs", json: ["kind": "train", "target": "m", "spec": ["x": .string(description)]])
            #expect(job.status == .contentTooLarge)
        }
        #expect(try await h.queue.jobs().jobs.isEmpty)
    }
}
