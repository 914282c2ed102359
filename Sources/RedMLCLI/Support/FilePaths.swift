import Foundation

/// File-system helpers for the store commands.
enum FilePaths {
    /// Whether two paths name the same file (after resolving `.`, `..` and symlinks).
    static func same(_ lhs: String, _ rhs: String) -> Bool {
        canonical(lhs) == canonical(rhs)
    }

    /// The size of the file at `path` in bytes; 0 when there is none.
    static func size(of path: String) -> Int64 {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        return (attributes?[.size] as? NSNumber)?.int64Value ?? 0
    }

    /// Whether there is a directory at `path` (`false` for a file, or nothing).
    static func isDirectory(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    /// Whether `path` is a regular file of no bytes.
    static func isEmptyFile(_ path: String) -> Bool {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else { return false }
        return attributes[.type] as? FileAttributeType == .typeRegular && (attributes[.size] as? NSNumber)?.intValue == 0
    }

    /// `path` as SQLite must be given it to open that very file. SQLite reads
    /// a name that begins with `file:` as a URI (`file:x.sqlite` opens
    /// `x.sqlite`), while the commands check and report the path as written,
    /// so such a path gets a leading `./`, which SQLite takes literally.
    static func sqlite(_ path: String) -> String {
        path.hasPrefix("file:") ? "./" + path : path
    }

    private static func canonical(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
    }
}
