//! How a [`World`](super::World) keeps its observers: boxed as any
//! [`Observer`], and given back as their own type through the typed handle
//! [`ObserverId`] that installing one returns.

use std::any::Any;
use std::marker::PhantomData;

use super::process::Observer;

/// An observer as the kernel keeps it: any [`Observer`], stored so that
/// whoever installed it can have it back as its own type through its
/// [`ObserverId`] (the handle carries the type; no caller downcasts).
pub(super) trait Slot<E>: Observer<E> {
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

impl<E, O: Observer<E> + 'static> Slot<E> for O {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

/// A typed handle to an observer installed in a [`World`](super::World) with
/// [`add_observer`](super::World::add_observer): it gives the observer back as
/// an `O`.
pub struct ObserverId<O> {
    pub(super) index: usize,
    pub(super) _observer: PhantomData<fn() -> O>,
}

impl<O> Clone for ObserverId<O> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<O> Copy for ObserverId<O> {}

impl<O> std::fmt::Debug for ObserverId<O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ObserverId({})", self.index)
    }
}
