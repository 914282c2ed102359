import RedML

/// Records a listing passed over because they could not be read: each is
/// named on stderr, so a list is never silently short, and `--json` output
/// carries them under `skipped`.
enum SkippedRecords {
    /// Writes one stderr line per skipped record; returns their descriptions for `--json`.
    @discardableResult
    static func report(_ errors: [MLPersistenceError]) -> [String] {
        let descriptions = errors.map(\.description)
        let see = "see `redml store check`"
        for description in descriptions {
            Console.error("skipped a record that cannot be read (\(see)): \(description)")
        }
        return descriptions
    }
}
