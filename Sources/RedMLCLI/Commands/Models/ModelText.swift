import RedML

/// How models and versions read in the text output.
enum ModelText {
    /// `champion=3 staging=4`, in alias order, or `-`.
    static func aliases(_ aliases: [String: UInt32]) -> String {
        aliases.isEmpty ? "-" : aliases.keys.sorted().map { "\($0)=\(aliases[$0]!)" }.joined(separator: " ")
    }

    /// `active,champion` for the pointers at `version`, or an empty string.
    static func pointers(to version: UInt32, of model: MLModel) -> String {
        let active = model.activeVersion == version ? ["active"] : []
        return (active + model.aliases.keys.sorted().filter { model.aliases[$0] == version }).joined(separator: ",")
    }
}
