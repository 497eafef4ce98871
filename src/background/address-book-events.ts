// Every change to a contact or mailing list, as one callback (the address index rebuilds, debounced).
export function onAddressBooksChanged(listener: () => void): void {
  for (const event of [
    messenger.contacts.onCreated,
    messenger.contacts.onUpdated,
    messenger.contacts.onDeleted,
    messenger.mailingLists.onCreated,
    messenger.mailingLists.onUpdated,
    messenger.mailingLists.onDeleted,
    messenger.mailingLists.onMemberAdded,
    messenger.mailingLists.onMemberRemoved,
  ] as Array<{ addListener(cb: () => void): void }>) {
    event.addListener(listener);
  }
}
