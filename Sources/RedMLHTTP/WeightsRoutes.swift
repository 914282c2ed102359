import Foundation
import Hummingbird
import RedMLCore
import RedMLPersistence
import RedMLRegistry

extension MLHTTPAPI {
    /// Registration fields shared by the JSON body and the `RedML-Registration` header.
    static let registrationFields: Set<String> = [
        "hyperparameters", "metrics", "training_data_sha256", "training_query", "parent_version", "created_by",
        "description", "tags", "activate", "job_id", "expected_version",
    ]

    /// `POST /v1/models/{name}/versions`: registers the next version.
    ///
    /// `application/json`: `{"weights_base64": …, …registration fields}`.
    /// `application/octet-stream`: the body is the weights, streamed into the
    /// store; the registration fields are a JSON object in the
    /// `RedML-Registration` header (optional), and a `RedML-SHA256` header
    /// (optional) names the digest the weights must have (`weights_sha256`
    /// in a JSON body).
    func registerVersion<Context>(_ input: RequestInput<Context>) async throws -> Response {
        _ = try input.query(allowed: [])
        let name = try input.path("name")
        let contentType = input.request.headers[.contentType]
        if let contentType, RequestInput<Context>.isMediaType(contentType, "application/octet-stream") {
            let registration = try registration(for: name, fromHeaderOf: input)
            return try await registerStreamed(registration, input)
        }
        if let contentType, !RequestInput<Context>.isMediaType(contentType, "application/json") {
            // This route takes either form, so the 415 names both.
            throw MLHTTPError.unsupportedMediaType(contentType, expected: "application/json or application/octet-stream")
        }
        guard input.request.headers[.redMLRegistration] == nil else {
            throw MLHTTPError.badRequest(
                "the RedML-Registration header goes with an application/octet-stream body; "
                    + "a JSON body holds the registration fields itself")
        }
        guard input.request.headers[.redMLSHA256] == nil else {
            // Ignoring it would register weights the client asked to have checked, unchecked.
            throw MLHTTPError.badRequest(
                "the RedML-SHA256 header goes with an application/octet-stream body; "
                    + "a JSON body gives the digest as its weights_sha256 field")
        }
        let body = try JSONFields(try await input.jsonObject() ?? [:],
                                  allowed: Self.registrationFields.union(["weights_base64", "weights_sha256"]))
        let encoded = try body.requiredString("weights_base64")
        let weights = try Self.decodeBase64(encoded, field: "request body field 'weights_base64'")
        guard !weights.isEmpty else {
            throw MLHTTPError(.badRequest, code: "empty_weights",
                              message: "request body field 'weights_base64' is empty; weights have at least one byte")
        }
        let registration = try Self.completed(
            Self.registration(for: name, body), input, weightsSHA256: try body.string("weights_sha256"),
            field: "request body field 'weights_sha256'")
        let version = try await registry.register(registration, weights: weights)
        return JSONResponse.make(.object(RegistryJSON.version(version)), status: .created)
    }

    /// `PUT /v1/models/{name}/versions/{version}/weights`: registers exactly
    /// version {version} from the streamed body, or answers 409
    /// `version_conflict` when the next number is another one.
    func uploadWeights<Context>(_ input: RequestInput<Context>) async throws -> Response {
        _ = try input.query(allowed: [])
        let (name, number) = (try input.path("name"), try input.version())
        if let contentType = input.request.headers[.contentType],
            !RequestInput<Context>.isMediaType(contentType, "application/octet-stream")
        {
            throw MLHTTPError.unsupportedMediaType(contentType, expected: "application/octet-stream")
        }
        var registration = try registration(for: name, fromHeaderOf: input)
        if let expected = registration.expectedVersion, expected != number {
            throw MLHTTPError.invalidField(
                "RedML-Registration header field 'expected_version'", "is \(expected) but the path names version \(number)")
        }
        try await checkNextVersion(of: name, is: number)
        registration.expectedVersion = number  // the registry refuses any other next number (409 version_conflict)
        return try await registerStreamed(registration, input)
    }

    /// `GET /v1/models/{name}/versions/{version}/weights`: the weights, streamed
    /// and verified on the way; `RedML-SHA256` and the `ETag` carry the SHA-256.
    ///
    /// The status and headers go out before the bytes, so if verification fails
    /// at the end the connection is cut short rather than completed: a client
    /// must check the SHA-256 of what it received.
    func downloadWeights<Context>(_ input: RequestInput<Context>) async throws -> Response {
        _ = try input.query(allowed: [])
        let (name, number) = (try input.path("name"), try input.version())
        let stream = try await registry.weights(of: name, version: number)
        let sha256 = stream.version.weights.sha256
        let etag = "\"\(sha256)\""
        if Self.ifNoneMatch(input.request.headers[values: .ifNoneMatch], matches: etag) {
            return Response(status: .notModified, headers: [.eTag: etag, .redMLSHA256: sha256])
        }
        let logger = self.logger
        let body = ResponseBody(contentLength: Int(stream.version.weights.size)) { writer in
            do {
                for try await chunk in stream {
                    try await writer.write(ByteBuffer(bytes: chunk))
                }
                try await writer.finish(nil)
            } catch {
                logger.error("weights download stopped", metadata: [
                    "model": "\(name)", "version": "\(number)", "error": "\(error)",
                ])
                throw error
            }
        }
        return Response(
            status: .ok,
            headers: [.contentType: "application/octet-stream", .eTag: etag, .redMLSHA256: sha256],
            body: body)
    }

    /// Refuses a PUT whose version is not next before reading its body; the
    /// registration's `expectedVersion` still settles a race with another writer.
    private func checkNextVersion(of name: String, is number: UInt32) async throws {
        let latest = try await latestVersion(of: name)
        guard UInt64(number) == UInt64(latest) + 1 else {
            throw MLRegistryError(
                code: .versionConflict,
                message: "model '\(name)' expected to register version \(number), but the next version is \(UInt64(latest) + 1)",
                model: name, version: number)
        }
    }

    /// The model's latest version number, 0 for a model not yet registered.
    private func latestVersion(of name: String) async throws -> UInt32 {
        do {
            return try await registry.model(name).latestVersion
        } catch let error as MLRegistryError where error.code == .unknownModel {
            return 0
        }
    }

    /// Streams the request body into the registry; a failure on the request's
    /// side (too large, cut short) is answered as such, not as a store failure.
    private func registerStreamed<Context>(_ registration: MLRegistration, _ input: RequestInput<Context>) async throws -> Response {
        try input.checkDeclaredLength(limit: configuration.maximumWeightsSize, what: "the weights upload")
        if input.request.headers[.contentLength] == "0" { throw WeightsUpload.emptyUpload }
        // A parent that does not exist fails now, not after gigabytes were read (the registry checks again).
        if let parent = registration.parentVersion, case let latest = try await latestVersion(of: registration.model),
            parent > latest
        {
            throw MLRegistryError(
                code: .unknownVersion,
                message: "parent version \(parent) of model '\(registration.model)' does not exist (latest is \(latest))",
                model: registration.model, version: parent)
        }
        let monitor = UploadMonitor()
        let upload = WeightsUpload(body: input.request.body, limit: configuration.maximumWeightsSize, monitor: monitor)
        do {
            let version = try await registry.register(registration, weights: upload)
            return JSONResponse.make(.object(RegistryJSON.version(version)), status: .created)
        } catch {
            throw monitor.error ?? error
        }
    }

    /// Decodes standard base64 (RFC 4648), skipping the line breaks and spaces
    /// that tools such as `base64` wrap their output with; anything else that
    /// is wrong is named.
    static func decodeBase64(_ text: String, field: String) throws(MLHTTPError) -> Data {
        var compact = String.UnicodeScalarView()
        for (offset, scalar) in text.unicodeScalars.enumerated() {
            switch scalar {
            case " ", "\t", "\r", "\n": continue
            case "A"..."Z", "a"..."z", "0"..."9", "+", "/", "=": compact.append(scalar)
            default:
                throw MLHTTPError.invalidField(
                    field, "is not base64: character \(offset + 1) is '\(JSONFields.shown(String(scalar)))', "
                        + "but base64 uses only A–Z, a–z, 0–9, '+', '/' and '=' padding (not the URL-safe '-' and '_')")
            }
        }
        let padding = compact.reversed().prefix { $0 == "=" }.count
        guard padding <= 2, !compact.dropLast(padding).contains("=") else {
            throw MLHTTPError.invalidField(field, "is not base64: '=' only pads the end, once or twice")
        }
        guard compact.count % 4 == 0, let data = Data(base64Encoded: String(compact)) else {
            throw MLHTTPError.invalidField(
                field, "is not base64: \(compact.count) characters without spaces, but base64 comes in groups of 4")
        }
        return data
    }

    /// Whether an `If-None-Match` header matches `etag` (RFC 9110 section
    /// 13.1.2): `*`, or any listed tag, compared weakly (`W/"x"` matches `"x"`).
    static func ifNoneMatch(_ values: [String], matches etag: String) -> Bool {
        let tags = values.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }
        return tags.contains { tag in tag == "*" || (tag.hasPrefix("W/") ? String(tag.dropFirst(2)) : tag) == etag }
    }

    /// The registration fields of a streamed upload, from the `RedML-Registration` header.
    private func registration<Context>(for name: String, fromHeaderOf input: RequestInput<Context>) throws(MLHTTPError) -> MLRegistration {
        var registration = MLRegistration(model: name)
        if let header = try input.header(.redMLRegistration) {
            try RequestInput<Context>.requireUTF8(header, "header 'RedML-Registration'")
            let object: MLJSONObject
            do {
                object = try MLJSONValue.parseObject(header, field: "RedML-Registration header")
            } catch {
                throw MLHTTPError.badRequest("\(error)", code: "invalid_json")
            }
            registration = try Self.registration(for: name, JSONFields(object, allowed: Self.registrationFields,
                                                                        source: "RedML-Registration header"))
        }
        // The digest the client computed comes in the header downloads carry.
        return try Self.completed(
            registration, input, weightsSHA256: try input.header(.redMLSHA256), field: "header 'RedML-SHA256'")
    }

    /// `registration` with what the request says beside its fields: who
    /// registers it (`RedML-Actor`, for the history as on every other change,
    /// and as `created_by` unless that is given) and the client's digest of the
    /// weights, which the upload must match.
    private static func completed<Context>(
        _ registration: MLRegistration, _ input: RequestInput<Context>, weightsSHA256: String?, field: String
    ) throws(MLHTTPError) -> MLRegistration {
        var registration = registration
        if registration.createdBy == nil { registration.createdBy = try input.actor() }
        // Either case is taken, as `sha256sum` and other tools print either.
        let expected = weightsSHA256?.lowercased()
        if let weightsSHA256, let expected, !isSHA256Hex(expected) {
            throw MLHTTPError.invalidField(field, "must be a SHA-256 as 64 hex digits, got '\(JSONFields.shown(weightsSHA256))'")
        }
        registration.expectedWeightsSHA256 = expected
        return registration
    }

    private static func registration(for name: String, _ fields: JSONFields) throws(MLHTTPError) -> MLRegistration {
        MLRegistration(
            model: name, hyperparameters: try fields.object("hyperparameters") ?? [:],
            metrics: try fields.object("metrics") ?? [:], trainingDataSHA256: try fields.string("training_data_sha256"),
            trainingQuery: try fields.string("training_query"), parentVersion: try fields.version("parent_version"),
            createdBy: try fields.string("created_by"), description: try fields.string("description"),
            tags: try fields.stringMap("tags") ?? [:], jobID: try fields.jobID("job_id"),
            activate: try fields.bool("activate") ?? true, expectedVersion: try fields.version("expected_version"))
    }
}
