import Foundation
import RedMLPostgres

/// Where a command's store lives, parsed from `--store` or `REDML_STORE`.
enum StoreLocation: Equatable, CustomStringConvertible {
    /// An embedded SQLite file at this path.
    case sqlite(path: String)
    /// A throwaway in-memory store (`memory:`), gone when the command ends.
    case memory
    /// A PostgreSQL database (`postgres://user:pass@host:port/db`).
    case postgres(url: String)

    /// The spelling that selects the in-memory store.
    static let memorySpelling = "memory:"

    /// Which kind of store this is, for the advice errors give.
    var kind: CLIError.StoreKind {
        switch self {
        case .sqlite: .sqlite
        case .memory: .memory
        case .postgres: .postgres
        }
    }

    /// Parses a store argument.
    ///
    /// - Throws: ``CLIError`` for an empty argument or a URL scheme other than
    ///   `postgres://` and `postgresql://`.
    init(parsing text: String) throws {
        guard !text.isEmpty else {
            throw CLIError.invalidArgument("--store is empty; pass a SQLite file path, a postgres:// URL or memory:")
        }
        if text == Self.memorySpelling {
            self = .memory
            return
        }
        // Taken as a file path, `memory:x` or `MEMORY:` would quietly make a file of that name.
        if text.lowercased().hasPrefix(Self.memorySpelling) {
            throw CLIError.invalidArgument(
                "--store '\(text)' is neither memory: (exactly that, lowercase, for the in-memory store) nor a "
                    + "SQLite file path; for a file whose name begins so, pass ./\(text)")
        }
        if let scheme = Self.urlScheme(of: text) {
            if scheme == "postgres" || scheme == "postgresql" {
                self = .postgres(url: text)
                return
            }
            throw CLIError.invalidArgument(
                "unsupported store URL scheme '\(scheme)://'; pass a SQLite file path, a postgres:// URL "
                    + "or memory: for --store")
        }
        if Self.looksLikeConnectionString(text) {
            // Not echoed: such a string usually holds a password.
            throw CLIError.invalidArgument(
                "--store looks like a libpq connection string (key=value pairs), which RedML does not read; "
                    + "pass a URL such as postgres://user:password@host:5432/database?sslmode=prefer")
        }
        self = .sqlite(path: FilePaths.sqlite(text))
    }

    /// Whether `text` is a libpq `key=value …` connection string rather than
    /// a file path: it has such a pair with one of libpq's usual keys.
    private static func looksLikeConnectionString(_ text: String) -> Bool {
        let keys: Set<Substring> = ["host", "hostaddr", "port", "user", "password", "dbname", "sslmode"]
        // libpq allows spaces around `=`.
        var pairs = text
        while pairs.contains(" =") || pairs.contains("= ") {
            pairs = pairs.replacingOccurrences(of: " =", with: "=").replacingOccurrences(of: "= ", with: "=")
        }
        return pairs.split(separator: " ").contains { pair in
            guard let equals = pair.firstIndex(of: "=") else { return false }
            return keys.contains(pair[..<equals])
        }
    }

    /// How the store is named in output: the path, `memory:`, or the URL
    /// without its password.
    var description: String {
        switch self {
        case .sqlite(let path): path
        case .memory: Self.memorySpelling
        case .postgres(let url): PostgresMLPersistence.redacted(url: url)
        }
    }

    /// The backend's name in output: `sqlite` or `memory`.
    var backendName: String {
        switch self {
        case .sqlite: "sqlite"
        case .memory: "memory"
        case .postgres: "postgres"
        }
    }

    /// The scheme of `text` when it looks like `scheme://…`, lowercased.
    private static func urlScheme(of text: String) -> String? {
        guard let range = text.range(of: "://") else { return nil }
        let scheme = text[..<range.lowerBound]
        guard let first = scheme.first, first.isLetter,
            scheme.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "+" || $0 == "-" || $0 == "." })
        else { return nil }
        return scheme.lowercased()
    }
}
