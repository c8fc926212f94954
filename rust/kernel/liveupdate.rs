// SPDX-License-Identifier: GPL-2.0

//! Live Update Orchestrator (LUO): File-Lifecycle-Bound objects (FLBs).
//!
//! An FLB is global state that the files of one or more LUO file handlers
//! depend on. LUO preserves it when the first such file is preserved,
//! unpreserves it after the last one is unpreserved, and in the next kernel
//! retrieves it on first use and finishes it once every file using it has
//! finished.
//!
//! C header: [`include/linux/liveupdate.h`](srctree/include/linux/liveupdate.h)

use crate::{
    alloc::KBox,
    bindings,
    error::{
        code::*,
        from_result,
        to_result,
        Error,
        Result, //
    },
    ffi::{
        c_char,
        c_int, //
    },
    prelude::*,
    sync::atomic::{
        Acquire,
        AtomicFlag,
        Release, //
    },
    types::Opaque,
};
use core::{
    marker::PhantomData,
    ptr::NonNull, //
};

/// The callbacks of an FLB.
///
/// LUO calls them under its own per-FLB locks, so they must not call
/// [`Flb::get_incoming`] on the same FLB.
pub trait FlbOps: Sized + 'static {
    /// The object the next kernel restores from the handover data.
    type Incoming: Send;

    /// The compatible string that identifies the handover data format;
    /// shorter than `LIVEUPDATE_FLB_COMPAT_LENGTH`.
    const COMPATIBLE: &'static CStr;

    /// The first file that uses the FLB is being preserved: saves the
    /// global state and returns the handle the next kernel receives.
    fn preserve() -> Result<u64>;

    /// The last file that used the FLB was unpreserved before the kexec;
    /// `data` is what [`FlbOps::preserve`] returned.
    fn unpreserve(data: u64);

    /// Restores the previous kernel's object from its handle. `Ok(None)`
    /// retrieves the FLB without an object.
    fn retrieve(data: u64) -> Result<Option<KBox<Self::Incoming>>>;

    /// Every file that used the incoming object has finished.
    fn finish(incoming: Option<KBox<Self::Incoming>>) {
        drop(incoming);
    }
}

/// An FLB, to be placed in a `static`.
///
/// # Invariants
///
/// `flb.ops` points to the callbacks of `T`, and `incoming_taken` is set
/// while an [`IncomingRef`] of this FLB exists.
pub struct Flb<T: FlbOps> {
    flb: Opaque<bindings::liveupdate_flb>,
    incoming_taken: AtomicFlag,
    _t: PhantomData<T>,
}

// SAFETY: Rust only reads the FLB's public part and passes its address to
// LUO, which changes the private part under its own locks. The incoming
// object is reached only through the one `IncomingRef` the flag allows,
// and `T::Incoming` is `Send`.
unsafe impl<T: FlbOps> Sync for Flb<T> {}

impl<T: FlbOps> Flb<T> {
    const OPS: bindings::liveupdate_flb_ops = bindings::liveupdate_flb_ops {
        preserve: Some(Self::preserve_callback),
        unpreserve: Some(Self::unpreserve_callback),
        retrieve: Some(Self::retrieve_callback),
        finish: Some(Self::finish_callback),
        // Only built-in code can use an FLB that lives in a `static`.
        owner: core::ptr::null_mut(),
    };

    const COMPATIBLE: [c_char; bindings::LIVEUPDATE_FLB_COMPAT_LENGTH as usize] = {
        let src = T::COMPATIBLE.to_bytes();
        let mut out = [0; bindings::LIVEUPDATE_FLB_COMPAT_LENGTH as usize];
        assert!(src.len() < out.len(), "FLB compatible string too long");
        let mut i = 0;
        while i < src.len() {
            // CAST: A byte of a C string.
            out[i] = src[i] as c_char;
            i += 1;
        }
        out
    };

    /// A new FLB with the callbacks of `T`.
    pub const fn new() -> Self {
        // INVARIANT: `ops` is `T`'s table and no `IncomingRef` exists.
        Self {
            flb: Opaque::new(bindings::liveupdate_flb {
                ops: &Self::OPS,
                compatible: Self::COMPATIBLE,
                ..pin_init::zeroed()
            }),
            incoming_taken: AtomicFlag::new(false),
            _t: PhantomData,
        }
    }

    /// The C FLB.
    pub fn as_raw(&self) -> *mut bindings::liveupdate_flb {
        self.flb.get()
    }

    /// Attaches the FLB to a LUO file handler: preserving a file of that
    /// handler preserves the FLB first.
    ///
    /// # Safety
    ///
    /// `fh` must point to a file handler registered with LUO, and stay
    /// registered until [`Flb::unregister`] is called for it.
    pub unsafe fn register(&'static self, fh: *mut bindings::liveupdate_file_handler) -> Result {
        // SAFETY: `fh` is registered (function contract); the FLB is static.
        to_result(unsafe { bindings::liveupdate_register_flb(fh, self.as_raw()) })
    }

    /// Detaches the FLB from a file handler.
    ///
    /// # Safety
    ///
    /// `fh` must be a handler this FLB was registered with by
    /// [`Flb::register`], and still registered with LUO.
    pub unsafe fn unregister(&'static self, fh: *mut bindings::liveupdate_file_handler) {
        // SAFETY: Guaranteed by the caller; the FLB is static.
        unsafe { bindings::liveupdate_unregister_flb(fh, self.as_raw()) };
    }

    /// Takes a reference on the incoming object, retrieving it on first
    /// use. It lasts as long as the returned guard.
    ///
    /// Fails with `EBUSY` while another guard exists, `ENODATA` or `ENOENT`
    /// if the previous kernel handed nothing over for this FLB (or it has
    /// finished), and with what [`FlbOps::retrieve`] returned. A retrieve
    /// that returned no object gives `Ok` with a guard that holds none.
    ///
    /// Must not be called under a lock that LUO's callbacks of this FLB
    /// take: LUO calls them with its FLB lock held.
    pub fn get_incoming(&'static self) -> Result<IncomingRef<T>> {
        if self.incoming_taken.xchg(true, Acquire) {
            return Err(EBUSY);
        }
        let mut obj = core::ptr::null_mut();
        // SAFETY: The FLB is static; `obj` is a valid out pointer.
        let err = unsafe { bindings::liveupdate_flb_get_incoming(self.as_raw(), &mut obj) };
        if err != 0 {
            self.incoming_taken.store(false, Release);
            return Err(Error::from_errno(err));
        }
        // INVARIANT: The flag was set above and the reference just taken.
        Ok(IncomingRef {
            flb: self,
            obj: NonNull::new(obj.cast()),
        })
    }

    /// # Safety
    ///
    /// Called by LUO with a valid `argp`.
    unsafe extern "C" fn preserve_callback(argp: *mut bindings::liveupdate_flb_op_args) -> c_int {
        from_result(|| {
            let data = T::preserve()?;
            // SAFETY: LUO passes a valid `argp` (function contract).
            unsafe { (*argp).data = data };
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by LUO with a valid `argp`.
    unsafe extern "C" fn unpreserve_callback(argp: *mut bindings::liveupdate_flb_op_args) {
        // SAFETY: LUO passes a valid `argp` (function contract).
        T::unpreserve(unsafe { (*argp).data });
    }

    /// # Safety
    ///
    /// Called by LUO with a valid `argp`.
    unsafe extern "C" fn retrieve_callback(argp: *mut bindings::liveupdate_flb_op_args) -> c_int {
        // SAFETY: LUO passes a valid `argp` (function contract).
        let args = unsafe { &mut *argp };
        match T::retrieve(args.data) {
            Ok(obj) => {
                args.obj = obj.map_or(core::ptr::null_mut(), |b| KBox::into_raw(b).cast());
                0
            }
            Err(e) => e.to_errno(),
        }
    }

    /// # Safety
    ///
    /// Called by LUO with a valid `argp` whose `obj` came from
    /// `retrieve_callback`.
    unsafe extern "C" fn finish_callback(argp: *mut bindings::liveupdate_flb_op_args) {
        // SAFETY: LUO passes a valid `argp` (function contract).
        let obj = NonNull::new(unsafe { (*argp).obj }.cast::<T::Incoming>());
        // SAFETY: A non-NULL `obj` came from `KBox::into_raw` in
        // `retrieve_callback`; LUO calls finish once, after the last
        // reference is gone, so no `IncomingRef` points to it.
        T::finish(obj.map(|p| unsafe { KBox::from_raw(p.as_ptr()) }));
    }
}

impl<T: FlbOps> Default for Flb<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// A reference on an FLB's incoming object; dropping it puts the
/// reference, and LUO finishes the object after the last one.
///
/// Dropping it takes LUO's FLB lock, so it must not be dropped under a
/// lock that the FLB's callbacks take.
///
/// # Invariants
///
/// It holds a reference taken by `liveupdate_flb_get_incoming()` and is
/// the only guard of `flb` (its `incoming_taken` is set); `obj` is the
/// object LUO retrieved, if any.
pub struct IncomingRef<T: FlbOps> {
    flb: &'static Flb<T>,
    obj: Option<NonNull<T::Incoming>>,
}

// SAFETY: The guard owns its reference, which may be put from any thread,
// and gives access to a `T::Incoming`, which is `Send`.
unsafe impl<T: FlbOps> Send for IncomingRef<T> {}

impl<T: FlbOps> IncomingRef<T> {
    /// The incoming object, `None` if retrieve produced none.
    pub fn get(&self) -> Option<&T::Incoming> {
        // SAFETY: The reference keeps the object alive (type invariant).
        self.obj.map(|p| unsafe { p.as_ref() })
    }

    /// The incoming object, mutable: this guard is the only one.
    pub fn get_mut(&mut self) -> Option<&mut T::Incoming> {
        // SAFETY: The reference keeps the object alive, and the guard is
        // the only way to reach it (type invariant); `&mut self` makes this
        // borrow the only one.
        self.obj.map(|mut p| unsafe { p.as_mut() })
    }
}

impl<T: FlbOps> Drop for IncomingRef<T> {
    fn drop(&mut self) {
        // SAFETY: Puts the reference this guard holds (type invariant).
        unsafe { bindings::liveupdate_flb_put_incoming(self.flb.as_raw()) };
        self.flb.incoming_taken.store(false, Release);
    }
}
