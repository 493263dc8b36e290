//! rtnetlink at the edge: virtual addresses and routes, interface and address state and
//! events, inside any named network namespace. (Being written.)
