import Hummingbird
import RedMLCore

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

    /// An empty 204 response.
    static func noContent() -> Response {
        Response(status: .noContent)
    }
}
