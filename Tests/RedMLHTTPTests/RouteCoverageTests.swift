import Foundation
import RedMLHTTP
import Testing

/// The bundled OpenAPI document describes exactly the routes the router is built from.
@Suite("OpenAPI coverage")
struct RouteCoverageTests {
    /// `METHOD /path` for every operation under `paths:`, read line by line:
    /// a path is a two-space-indented key starting with `/`, an operation a
    /// four-space-indented HTTP method key under it.
    static func documentedRoutes(_ yaml: String) -> Set<String> {
        let methods: Set<String> = ["get", "put", "post", "delete", "patch", "head", "options"]
        var routes: Set<String> = []
        var inPaths = false
        var path: String?
        for line in yaml.split(separator: "\n", omittingEmptySubsequences: false) {
            if !line.hasPrefix(" ") && !line.isEmpty {
                inPaths = line == "paths:"
                path = nil
                continue
            }
            guard inPaths else { continue }
            if line.hasPrefix("  /"), line.hasSuffix(":") {
                path = String(line.dropFirst(2).dropLast())
            } else if let path, line.hasPrefix("    "), !line.hasPrefix("     "), line.hasSuffix(":"),
                methods.contains(String(line.dropFirst(4).dropLast()))
            {
                routes.insert(line.dropFirst(4).dropLast().uppercased() + " " + path)
            }
        }
        return routes
    }

    @Test func everyRouteIsDocumentedAndEveryDocumentedRouteExists() throws {
        let yaml = String(decoding: try MLHTTPAPI.openAPIBytes(), as: UTF8.self)
        let documented = Self.documentedRoutes(yaml)
        let served = Set(MLHTTPRoute.allCases.map { "\($0.method) \($0.path)" })
        #expect(served.count == MLHTTPRoute.allCases.count, "two routes share a method and path")
        #expect(served.subtracting(documented).sorted() == [], "served but not in openapi.yaml")
        #expect(documented.subtracting(served).sorted() == [], "in openapi.yaml but not served")
        #expect(yaml.hasPrefix("openapi: 3.1"))
    }

    @Test func everyReferencedComponentIsDefined() throws {
        let yaml = String(decoding: try MLHTTPAPI.openAPIBytes(), as: UTF8.self)
        let references = yaml.components(separatedBy: "$ref: \"#/components/").dropFirst().map {
            String($0.prefix { $0 != "\"" })
        }
        #expect(!references.isEmpty)
        for reference in Set(references) {
            let parts = reference.split(separator: "/")
            #expect(parts.count == 2, "odd reference \(reference)")
            guard parts.count == 2 else { continue }
            #expect(yaml.contains("\n  \(parts[0]):\n"), "no section \(parts[0])")
            #expect(yaml.contains("\n    \(parts[1]):\n"), "no component \(reference)")
        }
    }
}
