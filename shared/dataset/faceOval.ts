/**
 * MediaPipe's face oval: the landmark indices of FACEMESH_FACE_OVAL
 * (mediapipe/python/solutions/face_mesh_connections.py), as one closed loop in
 * the order its 36 connections chain: forehead centre (10), down the subject's left
 * side past the ear (454) to the chin (152), up the right side (234) and back to 10.
 * The loop runs along the jaw, the cheeks at ear level and the hairline, so the polygon
 * holds brows, eyes, nose, mouth and cheeks, and no hair, ears or neck.
 *
 * Pure data: shared by browser and server code.
 */
export const FACE_OVAL = [
  10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
  152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
] as const;
