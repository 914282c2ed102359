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
            if let upper = MLKeyOrder.successor(ofPrefix: prefix) {
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
}
