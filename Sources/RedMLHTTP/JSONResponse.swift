import Hummingbird
import RedMLCore
import RedMLPersistence

/// Builds JSON responses from ``MLJSONValue``s, so output never goes through
/// a second, hand-kept `Encodable` form.
enum JSONResponse {
    /// A response whose body is `value`'s compact JSON text.
    static func make(_ value: MLJSONValue, status: HTTPResponse.Status = .ok) -> Response {
        var text = value.jsonText
        text.append("\n")
        return Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    /// A list's (or a model's) body, with `skipped` naming the records passed
    /// over because they could not be read, so an answer is never silently short.
    ///
    /// Each entry is the error's description (`ml persistence value corrupted:
    /// model_versions/iris@v1: …`), the strings `redml … --json` prints under
    /// `skipped`; as there, the field is absent when nothing was skipped.
    static func page(_ fields: MLJSONObject, skipped: [MLPersistenceError]) -> MLJSONValue {
        var fields = fields
        if !skipped.isEmpty { fields["skipped"] = .array(skipped.map { .string($0.description) }) }
        return .object(fields)
    }

    /// An empty 204 response.
    static func noContent() -> Response {
        Response(status: .noContent)
    }
}
