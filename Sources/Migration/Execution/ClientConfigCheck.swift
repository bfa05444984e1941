public import Ensemble
import MigrationPlanning

/// The plan-time check of the moving members: each config file is read through its host's driver
/// and the edit the switch will make is tried on it (nothing is written). A file that is missing,
/// cannot be parsed, or where the key is missing or ambiguous, refuses the plan; so does a member
/// whose sessions could not be recognised in `cons` (no IP address, no `match:`).
public enum ClientConfigCheck {
    /// Why `member`'s file (its text, nil when it does not exist) cannot be switched to
    /// `connectionString`, naming host, file and key; nil when it can.
    public static func problem(member: PlanClientMember, text: String?, switchingTo connectionString: String) -> String? {
        guard member.configFormat != .command else { return nil }
        let place = "\(member.host): \(member.configPath) (member \(member.name), \(member.configFormat.rawValue), key \(member.connectionKey))"
        guard let text else { return "\(place): the file does not exist; check configPath in the inventory" }
        guard let error = ClientConfigFile.problem(in: text, format: member.configFormat, key: member.connectionKey, switchingTo: connectionString) else {
            return nil
        }
        return "\(place): \(error)"
    }

    /// Every problem with the files of the plan's moving members, read through `hosts`.
    public static func problems(_ plan: Plan, hosts: any HostDirectory) async -> [String] {
        var problems: [String] = []
        // Phase 2 of a plan from host addresses switches every group (to the same servers).
        for group in plan.clientGroups where group.moves || plan.source.startsOnHostAddresses {
            let target = plan.destination.connectionString(chroot: group.chroot)
            for member in group.members where member.addressRules.isEmpty {
                problems.append(
                    "\(member.host): member \(member.name) of \(group.name): its switch could not be verified, because its host's address '\(member.address ?? member.host)' is not an IP address (cons lists clients by IP); give the host an address: in the inventory, or the member a match: rule (e.g. match: 10.0.0.5)")
            }
            for member in group.members where member.configFormat != .command {
                do {
                    let text = try await hosts.driver(for: member.host).readFile(member.configPath)
                    if let problem = problem(member: member, text: text, switchingTo: target) { problems.append(problem) }
                } catch {
                    problems.append("\(member.host): cannot read \(member.configPath) of member \(member.name): \(error)")
                }
            }
        }
        return problems
    }
}
