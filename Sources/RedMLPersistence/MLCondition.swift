/// A precondition that an entry must meet for a conditional write to apply.
///
/// Build one with the static members: ``always``, ``absent``, ``present`` and
/// ``revision(_:)``.
public struct MLCondition: Hashable, Sendable, CustomStringConvertible {
    /// What the condition requires; backends switch over it.
    public enum Requirement: Hashable, Sendable {
        /// No requirement: the write always applies.
        case none
        /// The entry must not exist.
        case absent
        /// The entry must exist, at any revision.
        case present
        /// The entry must exist at exactly this revision.
        case revision(MLRevision)
    }

    /// What this condition requires.
    public let requirement: Requirement

    private init(_ requirement: Requirement) {
        self.requirement = requirement
    }

    /// No precondition: a plain, overwriting write.
    public static let always = MLCondition(.none)
    /// The entry must not exist (put-if-absent).
    public static let absent = MLCondition(.absent)
    /// The entry must exist, whatever its revision.
    public static let present = MLCondition(.present)
    /// The entry must exist at exactly `revision` (compare-and-swap).
    public static func revision(_ revision: MLRevision) -> MLCondition { MLCondition(.revision(revision)) }

    /// Whether an entry currently at `current` (`nil` when absent) meets the condition.
    public func isSatisfied(by current: MLRevision?) -> Bool {
        switch requirement {
        case .none: true
        case .absent: current == nil
        case .present: current != nil
        case .revision(let expected): current == expected
        }
    }

    public var description: String {
        switch requirement {
        case .none: "anything"
        case .absent: "absent"
        case .present: "present"
        case .revision(let revision): "at revision \(revision.rawValue)"
        }
    }
}
