import Hummingbird
import RedMLCore

/// An error the API answers with: an HTTP status and the JSON body
/// `{"error":{"code":"…","message":"…"}}`.
public struct MLHTTPError: Error, HTTPResponseError, Sendable, CustomStringConvertible {
    /// The HTTP status.
    public var status: HTTPResponse.Status
    /// A stable, machine-readable code, such as `unknown_model` or `invalid_json`.
    public var code: String
    /// What is wrong, naming the field, value or resource.
    public var message: String
    /// Extra headers, such as `WWW-Authenticate` on a 401.
    public var headers: HTTPFields
    /// The error this one reports, if any (logged, never sent).
    public var underlying: (any Error)?

    /// Creates an error.
    public init(
        _ status: HTTPResponse.Status, code: String, message: String, headers: HTTPFields = [:],
        underlying: (any Error)? = nil
    ) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
        self.underlying = underlying
    }

    public var description: String {
        "\(status.code) \(code): \(message)" + (underlying.map { " (\($0))" } ?? "")
    }

    /// The JSON body of the error.
    var body: MLJSONValue {
        ["error": ["code": .string(code), "message": .string(message)]]
    }

    /// The response: the JSON body with the status and extra headers.
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = JSONResponse.make(body, status: status)
        response.headers.append(contentsOf: headers)
        return response
    }
}

extension MLHTTPError {
    /// 400: the request itself is malformed; `field` names what is wrong.
    static func badRequest(_ message: String, code: String = "invalid_request") -> Self {
        Self(.badRequest, code: code, message: message)
    }

    /// 400 for one field of a body or query.
    static func invalidField(_ field: String, _ reason: String) -> Self {
        Self(.badRequest, code: "invalid_field", message: "\(field): \(reason)")
    }

    /// 404 for a route that does not exist.
    static func noRoute(_ method: HTTPRequest.Method, _ path: String) -> Self {
        Self(.notFound, code: "unknown_route", message: "no route \(method.rawValue) \(path)")
    }

    /// 413: a body above its limit.
    static func tooLarge(_ what: String, limit: Int) -> Self {
        Self(.contentTooLarge, code: "body_too_large", message: "\(what) is larger than the limit of \(limit) bytes")
    }

    /// 415: a content type the route does not take.
    static func unsupportedMediaType(_ got: String?, expected: String) -> Self {
        Self(.unsupportedMediaType, code: "unsupported_media_type",
             message: "Content-Type must be \(expected), got \(got.map { "'\($0)'" } ?? "none")")
    }

    /// 401 with the `WWW-Authenticate` challenge.
    static func unauthorized(_ message: String) -> Self {
        Self(.unauthorized, code: "unauthorized", message: message,
             headers: [.wwwAuthenticate: "Bearer realm=\"redml\""])
    }
}
