import Foundation
import HTTPTypes
import Hummingbird
import RedMLCore

/// Reads a request's path parameters, query and JSON body, turning anything
/// malformed into a 400 (or 413, 415) that names what is wrong.
struct RequestInput<Context: RequestContext> {
    let request: Request
    let context: Context
    let configuration: MLHTTPAPI.Configuration

    // MARK: Path

    /// A path parameter, percent-decoded; refused if the encoding or its UTF-8 is broken.
    func path(_ name: String) throws(MLHTTPError) -> String {
        guard let raw = context.parameters.get(name) else {
            throw MLHTTPError.badRequest("path parameter '\(name)' is missing")
        }
        // Most names need no decoding; Foundation's decoder is a measurable share of a GET.
        guard raw.utf8.contains(UInt8(ascii: "%")) else { return raw }
        guard let decoded = raw.removingPercentEncoding else {
            throw MLHTTPError.invalidField("path parameter '\(name)'", "'\(JSONFields.shown(raw))' is not valid percent-encoded UTF-8")
        }
        return decoded
    }

    /// The `{version}` parameter: a decimal number 1…4294967295.
    func version() throws(MLHTTPError) -> UInt32 {
        let raw = try path("version")
        return try Self.version(raw, field: "path parameter 'version'")
    }

    /// The `{id}` parameter: a job id as 32 hex digits.
    func jobID() throws(MLHTTPError) -> UInt128 {
        let raw = try path("id")
        guard let id = MLKey.parseJob(raw) else {
            throw MLHTTPError.invalidField("path parameter 'id'", "a job id is 32 hex digits, got '\(JSONFields.shown(raw))'")
        }
        return id
    }

    static func version(_ raw: String, field: String) throws(MLHTTPError) -> UInt32 {
        guard !raw.isEmpty, raw.utf8.count <= 10, raw.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            let number = UInt32(raw), number >= 1
        else {
            throw MLHTTPError.invalidField(field, "a version is a whole number 1…4294967295, got '\(JSONFields.shown(raw))'")
        }
        return number
    }

    /// A RedML header's value; refused when sent more than once (which HTTP
    /// would join into one value with commas), as a repeated query parameter is.
    func header(_ name: HTTPField.Name) throws(MLHTTPError) -> String? {
        let values = request.headers[values: name]
        guard values.count <= 1 else {
            throw MLHTTPError.invalidField("header '\(name.rawName)'", "given more than once")
        }
        return values.first
    }

    /// Who makes the change, from the `RedML-Actor` header, for the model's history.
    func actor() throws(MLHTTPError) -> String? {
        guard let raw = try header(.redMLActor) else { return nil }
        try Self.requireUTF8(raw, "header 'RedML-Actor'")
        guard (1...255).contains(raw.utf8.count), !raw.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw MLHTTPError.invalidField("header 'RedML-Actor'", "must be 1–255 bytes without control characters")
        }
        return raw
    }

    /// Refuses a header value that was not valid UTF-8. Header bytes reach
    /// us decoded with each invalid sequence replaced by U+FFFD, so that
    /// character stands for them (a client has no reason to send it itself).
    static func requireUTF8(_ value: String, _ field: String) throws(MLHTTPError) {
        guard value.unicodeScalars.contains("\u{FFFD}") else { return }
        throw MLHTTPError.invalidField(field, "is not valid UTF-8 (or holds U+FFFD, the replacement character)")
    }

    // MARK: Query

    /// The query parameters, refusing any outside `allowed` and any repeated one.
    /// Names are percent-decoded (Hummingbird decodes the values); an empty
    /// pair (`a=1&&b=2`, a trailing `&`) is skipped.
    func query(allowed: Set<String>) throws(MLHTTPError) -> QueryParameters {
        var values: [String: String] = [:]
        for (key, value) in request.uri.queryParameters {
            if key.isEmpty && value.isEmpty { continue }
            guard let name = key.contains("%") ? String(key).removingPercentEncoding : String(key) else {
                throw MLHTTPError.badRequest(
                    "query parameter name '\(JSONFields.shown(String(key)))' is not valid percent-encoded UTF-8")
            }
            guard allowed.contains(name) else {
                throw MLHTTPError(
                    .badRequest, code: "unknown_parameter",
                    message: "unknown query parameter '\(JSONFields.shown(name))'; allowed: "
                        + (allowed.isEmpty ? "none" : allowed.sorted().joined(separator: ", ")))
            }
            guard values[name] == nil else {
                throw MLHTTPError.invalidField("query parameter '\(name)'", "given more than once")
            }
            values[name] = String(value)
        }
        return QueryParameters(values: values, configuration: configuration)
    }

    // MARK: Body

    /// Refuses a request that carries a body to a route that reads none, with
    /// 400 `unexpected_body`: ignoring it could drop a condition the client meant.
    /// A declared length above 0 is refused at once; without a declared length
    /// (chunked, or HTTP/2) the body is read, and refused only if it holds a byte.
    static func refuseBody(of request: Request, route: MLHTTPRoute) async throws {
        let refusal = { (sent: String) in
            let hint = route == .removeAlias ? "; for a compare-and-swap, pass ?expected=N or ?expected=absent" : ""
            return MLHTTPError.badRequest(
                "\(request.method.rawValue) \(route.path) takes no request body, but \(sent) was sent\(hint)",
                code: "unexpected_body")
        }
        if let length = request.headers[.contentLength] {
            guard length == "0" else { throw refusal("a body of \(JSONFields.shown(length)) bytes") }
            return
        }
        for try await buffer in request.body where buffer.readableBytes > 0 {
            throw refusal("a body")
        }
    }

    /// The body as one JSON object; `nil` for an empty body when `optional`.
    ///
    /// - Throws: 415 for a content type other than JSON, 413 above
    ///   ``MLHTTPAPI/Configuration/maximumBodySize``, 400 for invalid UTF-8,
    ///   invalid JSON or anything but an object.
    func jsonObject(optional: Bool = false) async throws -> MLJSONObject? {
        let contentType = request.headers[.contentType]
        if let contentType, !Self.isMediaType(contentType, "application/json") {
            throw MLHTTPError.unsupportedMediaType(contentType, expected: "application/json")
        }
        let bytes = try await collect(limit: configuration.maximumBodySize, what: "the request body")
        if bytes.isEmpty {
            guard optional else { throw MLHTTPError.badRequest("the request body is empty; a JSON object is required", code: "invalid_json") }
            return nil
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw MLHTTPError.badRequest("the request body is not valid UTF-8", code: "invalid_utf8")
        }
        do {
            return try MLJSONValue.parseObject(text, field: "request body")
        } catch {
            throw MLHTTPError.badRequest("\(error)", code: "invalid_json")
        }
    }

    /// The body's bytes, refusing more than `limit` (first by its declared length, then by counting).
    func collect(limit: Int, what: String) async throws -> [UInt8] {
        try checkDeclaredLength(limit: limit, what: what)
        var bytes: [UInt8] = []
        for try await buffer in request.body {
            guard bytes.count + buffer.readableBytes <= limit else { throw MLHTTPError.tooLarge(what, limit: limit) }
            bytes.append(contentsOf: buffer.readableBytesView)
        }
        return bytes
    }

    /// Refuses a declared `Content-Length` above `limit` before reading anything.
    func checkDeclaredLength(limit: Int, what: String) throws(MLHTTPError) {
        if let declared = request.headers[.contentLength], let length = Int(declared), length > limit {
            throw MLHTTPError.tooLarge(what, limit: limit)
        }
    }

    /// Whether a `Content-Type` value is `mediaType`, ignoring case and parameters such as charset.
    static func isMediaType(_ value: String, _ mediaType: String) -> Bool {
        let bare = value.split(separator: ";", maxSplits: 1).first.map(String.init) ?? value
        return bare.trimmingCharacters(in: .whitespaces).lowercased() == mediaType
    }
}

/// Checked query parameters.
struct QueryParameters {
    let values: [String: String]
    let configuration: MLHTTPAPI.Configuration

    subscript(_ name: String) -> String? { values[name] }

    /// `limit`: 1…the configured maximum, the configured default when absent.
    func limit() throws(MLHTTPError) -> Int {
        guard let raw = values["limit"] else { return configuration.defaultPageLimit }
        guard raw.utf8.count <= 9, let limit = Int(raw), (1...configuration.maximumPageLimit).contains(limit),
            raw.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 })
        else {
            throw MLHTTPError.invalidField(
                "query parameter 'limit'", "must be a whole number 1…\(configuration.maximumPageLimit), got '\(JSONFields.shown(raw))'")
        }
        return limit
    }

    /// A `true`/`false` parameter.
    func bool(_ name: String) throws(MLHTTPError) -> Bool? {
        switch values[name] {
        case nil: nil
        case "true": true
        case "false": false
        case let other?: throw MLHTTPError.invalidField("query parameter '\(name)'", "must be true or false, got '\(JSONFields.shown(other))'")
        }
    }

    /// `order`: `oldest` or `newest`; returns whether newest comes first.
    func newestFirst(default newest: Bool) throws(MLHTTPError) -> Bool {
        switch values["order"] {
        case nil: newest
        case "newest": true
        case "oldest": false
        case let other?: throw MLHTTPError.invalidField("query parameter 'order'", "must be oldest or newest, got '\(JSONFields.shown(other))'")
        }
    }

    /// A whole-number cursor such as a version or an event sequence.
    func numberCursor<N: FixedWidthInteger & UnsignedInteger>(_ type: N.Type) throws(MLHTTPError) -> N? {
        guard let raw = values["cursor"] else { return nil }
        guard !raw.isEmpty, raw.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let value = N(raw) else {
            throw MLHTTPError.invalidField("query parameter 'cursor'", "'\(JSONFields.shown(raw))' is not a cursor this list returned")
        }
        return value
    }

    /// `tag`: `key` or `key=value`; an empty key is refused, as no tag has one
    /// and the filter would match nothing, silently.
    func tag() throws(MLHTTPError) -> (key: String, value: String?)? {
        guard let raw = values["tag"] else { return nil }
        let key = raw.firstIndex(of: "=").map { String(raw[..<$0]) } ?? raw
        guard !key.isEmpty else {
            throw MLHTTPError.invalidField("query parameter 'tag'", "must be key or key=value with a non-empty key, got '\(JSONFields.shown(raw))'")
        }
        guard let equals = raw.firstIndex(of: "=") else { return (raw, nil) }
        return (key, String(raw[raw.index(after: equals)...]))
    }
}
