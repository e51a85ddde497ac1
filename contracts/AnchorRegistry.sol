// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// @title AnchorRegistry
/// @notice Append-only registry of proofmark batch roots. Each batch of lifecycle-event leaves is a
/// keccak256 Merkle tree with sorted pairs; its root is anchored here once, under a gapless batch id.
/// @dev Only the root is stored. The leaf count travels in the event, and the time and block come from
/// the block that holds the event, so an anchor costs one new storage slot plus the counter update.
contract AnchorRegistry is AccessControl {
    /// @notice Role allowed to anchor roots: the proofmark service's hot key.
    bytes32 public constant ANCHORER_ROLE = keccak256("ANCHORER_ROLE");

    /// @notice The id the next anchored batch must carry.
    uint64 private _nextBatchId = 1;

    /// @notice Root of each anchored batch; zero means not anchored.
    mapping(uint64 batchId => bytes32 root) private _roots;

    /// @notice A batch was anchored.
    /// @param batchId The batch's id (gapless, starting at 1).
    /// @param root The batch's Merkle root.
    /// @param leafCount How many leaves the batch holds.
    event BatchAnchored(uint64 indexed batchId, bytes32 indexed root, uint32 leafCount);

    /// @notice `anchor` was called with an id other than `nextBatchId()`.
    /// @param expected The id the registry expects next.
    /// @param got The id that was passed.
    error BatchOutOfOrder(uint64 expected, uint64 got);

    /// @notice `anchor` was called with a zero root.
    error ZeroRoot();

    /// @notice `anchor` was called with a leaf count of zero.
    error EmptyBatch();

    /// @notice The constructor was given the zero address as admin.
    error ZeroAdmin();

    /// @param admin Receives DEFAULT_ADMIN_ROLE and so may grant and revoke ANCHORER_ROLE. It can be a
    /// cold key or a multisig: anchoring itself needs only ANCHORER_ROLE.
    constructor(address admin) {
        if (admin == address(0)) revert ZeroAdmin();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @notice Anchors the root of batch `batchId`, which must be exactly `nextBatchId()`.
    /// @dev Two service instances racing for the same id cannot both succeed: the second reverts with
    /// BatchOutOfOrder. Emits BatchAnchored.
    /// @param batchId The batch's id; must equal `nextBatchId()`.
    /// @param root The batch's Merkle root; must not be zero.
    /// @param leafCount How many leaves the batch holds; must not be zero.
    function anchor(uint64 batchId, bytes32 root, uint32 leafCount) external onlyRole(ANCHORER_ROLE) {
        uint64 expected = _nextBatchId;
        if (batchId != expected) revert BatchOutOfOrder(expected, batchId);
        if (root == bytes32(0)) revert ZeroRoot();
        if (leafCount == 0) revert EmptyBatch();
        _roots[batchId] = root;
        unchecked {
            _nextBatchId = expected + 1;
        }
        emit BatchAnchored(batchId, root, leafCount);
    }

    /// @notice The id the next anchored batch must carry; 1 on a new registry.
    /// @return The next batch id.
    function nextBatchId() external view returns (uint64) {
        return _nextBatchId;
    }

    /// @notice The anchored root of a batch.
    /// @param batchId The batch's id.
    /// @return The root, or zero if the batch is not anchored.
    function rootOf(uint64 batchId) external view returns (bytes32) {
        return _roots[batchId];
    }

    /// @notice Checks a Merkle proof (sorted pairs, as OpenZeppelin's MerkleProof) against an anchored root.
    /// @param batchId The batch the leaf belongs to.
    /// @param leaf The leaf (already double-hashed, see docs/proof-format.md).
    /// @param proof The sibling hashes from the leaf up to the root.
    /// @return True when the batch is anchored and the proof leads from `leaf` to its root.
    function verify(uint64 batchId, bytes32 leaf, bytes32[] calldata proof) external view returns (bool) {
        bytes32 root = _roots[batchId];
        return root != bytes32(0) && MerkleProof.verifyCalldata(proof, root, leaf);
    }
}
