// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// @title IStateAnchoring
/// @notice What a registry that also anchors each batch's item-directory root offers (ERC-165 id:
/// the selector of anchorWithState). A registry deployed before it answers false for this id, and
/// its batches carry no anchored state root.
interface IStateAnchoring {
    /// @notice A batch's item-directory root (docs/directory.md) was anchored beside its batch root.
    /// @param batchId The batch's id, as in the BatchAnchored event of the same transaction.
    /// @param stateRoot The directory root after the batch.
    event StateRootAnchored(uint64 indexed batchId, bytes32 stateRoot);

    /// @notice Anchors batch `batchId` as `anchor` does, and its directory root beside it.
    function anchorWithState(uint64 batchId, bytes32 root, uint32 leafCount, bytes32 stateRoot) external;
}

/// @title AnchorRegistry
/// @notice Append-only registry of proofmark batch roots. Each batch of lifecycle-event leaves is a
/// keccak256 Merkle tree with sorted pairs; its root is anchored here once, under a gapless batch id.
/// @dev Only the root is stored. The leaf count travels in the event, and the time and block come from
/// the block that holds the event, so an anchor costs one new storage slot plus the counter update.
contract AnchorRegistry is AccessControl, IStateAnchoring {
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

    /// @notice `anchorWithState` was called with a zero state root.
    error ZeroStateRoot();

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
        _anchor(batchId, root, leafCount);
    }

    /// @notice Anchors batch `batchId` exactly as `anchor` does (same checks, same BatchAnchored
    /// event), and the batch's item-directory root beside it in StateRootAnchored. Only the batch
    /// root is stored: the state root lives in the event log, which is what verifiers read.
    /// @param batchId The batch's id; must equal `nextBatchId()`.
    /// @param root The batch's Merkle root (its events); must not be zero.
    /// @param leafCount How many leaves the batch holds; must not be zero.
    /// @param stateRoot The item directory's root after the batch; must not be zero.
    function anchorWithState(
        uint64 batchId,
        bytes32 root,
        uint32 leafCount,
        bytes32 stateRoot
    ) external onlyRole(ANCHORER_ROLE) {
        if (stateRoot == bytes32(0)) revert ZeroStateRoot();
        _anchor(batchId, root, leafCount);
        emit StateRootAnchored(batchId, stateRoot);
    }

    /// @notice ERC-165: true for IStateAnchoring besides what AccessControl answers, so the service
    /// can tell this registry from one deployed before anchorWithState existed.
    /// @param interfaceId The interface id asked about.
    /// @return Whether this contract implements it.
    function supportsInterface(bytes4 interfaceId) public view override returns (bool) {
        return interfaceId == type(IStateAnchoring).interfaceId || super.supportsInterface(interfaceId);
    }

    /// @dev The checks and the write shared by anchor and anchorWithState.
    function _anchor(uint64 batchId, bytes32 root, uint32 leafCount) private {
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
