import PostgresNIO
import RedMLPersistence

/// The SQL for one page request: a range scan of the primary key, whose
/// `COLLATE "C"` columns compare bytewise, as every backend orders keys.
struct PostgresPageQuery {
    let query: PostgresQuery

    init(table: String, namespace: String, request: MLPageRequest) {
        var binds = PostgresBindings()
        var conditions: [String] = []
        func bind(_ value: String) -> String {
            binds.append(value)
            return "$\(binds.count)"
        }
        conditions.append("namespace = \(bind(namespace))")
        if let prefix = request.prefix, !prefix.isEmpty {
            conditions.append("key >= \(bind(prefix))")
            if let upper = Self.successor(ofPrefix: prefix) {
                conditions.append("key < \(bind(upper))")
            }
        }
        if let after = request.after {
            conditions.append(request.order.isDescending ? "key < \(bind(after))" : "key > \(bind(after))")
        }
        // One more than the limit, to learn whether a next page exists; capped
        // so that a huge limit cannot overflow.
        binds.append(Int64(min(request.limit, 1 << 40)) + 1)
        let sql = """
            SELECT key, value, revision FROM \(table) WHERE \(conditions.joined(separator: " AND ")) \
            ORDER BY key \(request.order.isDescending ? "DESC" : "ASC") LIMIT $\(binds.count)
            """
        query = PostgresQuery(unsafeSQL: sql, binds: binds)
    }

    /// The smallest string greater than every string that starts with `prefix`,
    /// in UTF-8 byte order (which is Unicode scalar order), or `nil` if none exists.
    static func successor(ofPrefix prefix: String) -> String? {
        var scalars = Array(prefix.unicodeScalars)
        while let last = scalars.popLast() {
            var next = last.value + 1
            if next == 0xD800 { next = 0xE000 }  // skip the surrogate range
            if let scalar = Unicode.Scalar(next) {
                scalars.append(scalar)
                var text = ""
                text.unicodeScalars.append(contentsOf: scalars)
                return text
            }
        }
        return nil
    }
}
